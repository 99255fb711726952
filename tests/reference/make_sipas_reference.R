# Reference values for tests/test_survey_indices.py: SIPAS indices with standard errors
# on a subset of the demo 2023 data (sipas_demo_2023.csv, see make_sipas_fixture.py),
# computed with R's survey package independently of the Python code.
#
#   Rscript tests/reference/make_sipas_reference.R [INPUT.csv[.gz] OUTPUT.csv]
#
# Writes sipas_reference.csv (or OUTPUT): scope, item, stat, value (17 significant digits).
# Default input sipas_demo_2023.csv (six units); sipas_demo_2023_all.csv.gz holds every
# unit of the demo year (-> sipas_reference_all.csv).
# Formulas (docs: src/sipas/indices.py): criterion = weighted share of valid answers
# (1-5) that are 4 or 5; element = mean of its criteria; SIPAS = mean of the elements.
# Design: strata = stratum, PSU = psu (commune or respondent), weights, fpc = PSUs in
# the population of the stratum.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
options(survey.lonely.psu = "adjust")

files <- commandArgs(trailingOnly = TRUE)
input <- if (length(files) >= 1) files[1] else "sipas_demo_2023.csv"
output <- if (length(files) >= 2) files[2] else "sipas_reference.csv"
dat <- read.csv(file.path(here, input), stringsAsFactors = FALSE)
crit <- grep("^c[0-9]+_[0-9]+$", names(dat), value = TRUE)
elements <- split(crit, sub("_.*", "", crit))            # c1 -> c1_1..c1_4, ...
K <- length(crit)
for (k in seq_len(K)) {
  y <- dat[[crit[k]]]
  valid <- !is.na(y) & y %in% 1:5
  dat[[paste0("n", k)]] <- as.numeric(valid & y >= 4)
  dat[[paste0("d", k)]] <- as.numeric(valid)
  dat[[paste0("p", k)]] <- ifelse(valid, as.numeric(y >= 4), NA)
}
design <- svydesign(id = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, data = dat)
num <- as.formula(paste("~", paste0("n", seq_len(K), collapse = "+")))
den <- as.formula(paste("~", paste0("d", seq_len(K), collapse = "+")))
sel <- paste0("n", seq_len(K), "/d", seq_len(K))

out <- data.frame(scope = character(), item = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(scope, item, stat, value)
  out[nrow(out) + 1, ] <<- list(scope, item, stat, sprintf("%.17g", as.numeric(value)))

# coefficient vectors (over the K criterion ratios) of every element and of SIPAS
coefs <- function() {
  w <- list()
  for (e in names(elements)) w[[e]] <- setNames(as.numeric(crit %in% elements[[e]]) / length(elements[[e]]), crit)
  w[["sipas"]] <- Reduce(`+`, w) / length(elements)
  w
}
W <- coefs()

# one scope (a subset design): criterion ratios, their covariance, and the combinations
scope_values <- function(scope, d) {
  stopifnot(all(colSums(d$variables[, paste0("d", seq_len(K))]) > 0))  # every criterion answered
  r <- svyratio(num, den, d, covmat = TRUE)
  V <- vcov(r)[sel, sel]; b <- coef(r)[sel]
  for (k in seq_len(K)) {
    put(scope, crit[k], "estimate", b[k]); put(scope, crit[k], "se", sqrt(V[k, k]))
    valid <- d$variables[[paste0("d", k)]] == 1
    put(scope, crit[k], "n", sum(valid)); put(scope, crit[k], "df", degf(subset(d, valid)))
  }
  for (nm in names(W)) {
    cf <- W[[nm]]
    put(scope, nm, "estimate", sum(cf * b)); put(scope, nm, "se", sqrt(drop(t(cf) %*% V %*% cf)))
    used <- paste0("d", which(cf != 0))
    any_valid <- rowSums(d$variables[, used, drop = FALSE]) > 0
    put(scope, nm, "n", sum(any_valid)); put(scope, nm, "df", degf(subset(d, any_valid)))
  }
  # the same linear combination through svycontrast, as a check of the algebra above
  full <- setNames(rep(0, length(coef(r))), names(coef(r))); full[sel] <- W[["sipas"]]
  stopifnot(abs(SE(svycontrast(r, full)) - sqrt(drop(t(W[["sipas"]]) %*% V %*% W[["sipas"]]))) < 1e-12)
}

units <- sort(unique(dat$unit_id))
for (u in units) {
  d <- subset(design, unit_id == u)
  scope_values(u, d)
  # criterion intervals and design effects as svyciprop / svymean(deff = TRUE) give them
  for (k in seq_len(K)) {
    dv <- subset(d, d$variables[[paste0("d", k)]] == 1)
    f <- as.formula(paste0("~I(p", k, " == 1)"))
    for (m in c("logit", "beta")) {
      ci <- attr(svyciprop(f, dv, method = m), "ci")
      put(u, crit[k], paste0(m, "_ci_low"), ci[1]); put(u, crit[k], paste0(m, "_ci_high"), ci[2])
    }
    put(u, crit[k], "deff", attr(svymean(as.formula(paste0("~p", k)), dv, deff = TRUE), "deff"))
  }
  # Rao-Scott: satisfied with c2_5 (processing time) by age band, within the unit
  t <- svychisq(~p9 + age_band, d)
  stopifnot(crit[9] == "c2_5")
  put(u, "chisq_c2_5_age_band", "F", t$statistic)
  put(u, "chisq_c2_5_age_band", "ndf", t$parameter["ndf"])
  put(u, "chisq_c2_5_age_band", "ddf", t$parameter["ddf"])
  put(u, "chisq_c2_5_age_band", "p", t$p.value)
}

# respondent-weighted peer groups and province: the index over all their respondents
for (g in sort(unique(dat$unit_type))) scope_values(paste0("group:", g), subset(design, unit_type == g))
scope_values("province", design)

# unit-mean peer groups and province: mean of the units' indices. Totals of every
# unit x criterion numerator and denominator (full covariance across units from the
# design), then the nonlinear contrast (delta method) of svycontrast.
vars <- c()
for (u in units) for (k in seq_len(K)) {
  for (p in c("n", "d")) {
    v <- paste0(p, k, "_", gsub("-", "_", u))
    design$variables[[v]] <- design$variables[[paste0(p, k)]] * (design$variables$unit_id == u)
    vars <- c(vars, v)
  }
}
tot <- svytotal(as.formula(paste("~", paste(vars, collapse = "+"))), design)
unit_type <- tapply(dat$unit_type, dat$unit_id, `[`, 1)
for (scope in c(paste0("group:", sort(unique(unit_type))), "province")) {
  members <- if (scope == "province") units else units[unit_type[units] == sub("group:", "", scope)]
  for (nm in names(W)) {
    terms <- c()
    for (u in members) for (k in which(W[[nm]] != 0)) {
      s <- gsub("-", "_", u)
      terms <- c(terms, sprintf("%.17g * n%d_%s / d%d_%s", W[[nm]][k] / length(members), k, s, k, s))
    }
    cc <- svycontrast(tot, parse(text = paste(terms, collapse = " + "))[[1]])
    put(paste0(scope, "@unit_mean"), nm, "estimate", coef(cc)); put(paste0(scope, "@unit_mean"), nm, "se", SE(cc))
  }
}

# peer comparison: a unit's SIPAS minus the mean SIPAS of the other units of its type
for (u in units) {
  others <- setdiff(units[unit_type[units] == unit_type[u]], u)
  terms <- c()
  for (v in c(u, others)) for (k in which(W[["sipas"]] != 0)) {
    s <- gsub("-", "_", v)
    a <- W[["sipas"]][k] * (if (v == u) 1 else -1 / length(others))
    terms <- c(terms, sprintf("%.17g * n%d_%s / d%d_%s", a, k, s, k, s))
  }
  cc <- svycontrast(tot, parse(text = paste(terms, collapse = " + "))[[1]])
  put(u, "peer_sipas", "estimate", coef(cc)); put(u, "peer_sipas", "se", SE(cc))
}

# satisfied overall (respondent's own index >= 0.5) by gender, Rao-Scott, per unit
share <- sapply(names(elements), function(e) {
  k <- match(elements[[e]], crit)
  rowSums(as.matrix(dat[, paste0("n", k)])) / rowSums(as.matrix(dat[, paste0("d", k)]))
})
score <- apply(share, 1, function(x) if (all(is.nan(x))) NA else mean(x[!is.nan(x)]))
design$variables$sat <- as.numeric(score >= 0.5)
for (u in units) {
  d <- subset(design, unit_id == u)
  if (length(unique(na.omit(d$variables$sat))) < 2) {   # everyone satisfied: no test
    put(u, "chisq_satisfied_gender", "F", NA)
    next
  }
  t <- svychisq(~sat + gender, d)
  put(u, "chisq_satisfied_gender", "F", t$statistic)
  put(u, "chisq_satisfied_gender", "ndf", t$parameter["ndf"])
  put(u, "chisq_satisfied_gender", "ddf", t$parameter["ddf"])
  put(u, "chisq_satisfied_gender", "p", t$p.value)
}

write.csv(out, file.path(here, output), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
