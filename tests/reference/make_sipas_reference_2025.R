# Reference values for tests/test_survey_indices_2025.py: the SIPAS indices of every unit
# of the demo 2025 year under its household design, computed with R's survey package
# independently of the Python code (weights, raking variables and margins built here).
#
#   Rscript tests/reference/make_sipas_reference_2025.R
#
# Input: sipas_demo_2025_all.csv.gz (make_sipas_fixture_2025.py), the methodology
# (params/methodology/sipas-2023.yaml: criteria, elements, aspects) and the margins
# (params/margins/2025.yaml). Writes sipas_reference_2025.csv: scope, item, stat, value.
# Design (params/units/2025.yaml, design.households): strata = units; communes: PSU =
# village, second stage = household, fpc = villages in the unit and households in the
# village, weight = villages / villages drawn x households / households answering x
# adults; departments: PSU = respondent, fpc = served, weight as given (served / n), a
# second stage of one unit with N = 1. Then rake to adults per commune, sex, age band and
# ethnicity (grouped as in the margins file); the departments form one level "(khác)" of
# every margin with their own weight total.
suppressMessages({library(survey); library(yaml)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
root <- dirname(dirname(here))
options(survey.lonely.psu = "adjust")

dat <- read.csv(file.path(here, "sipas_demo_2025_all.csv.gz"), stringsAsFactors = FALSE,
                colClasses = c(age_band = "character"))
meth <- read_yaml(file.path(root, "params", "methodology", "sipas-2023.yaml"))
mar <- read_yaml(file.path(root, "params", "margins", "2025.yaml"))

home <- !is.na(dat$village) & dat$village != ""
answered <- ave(rep(1, nrow(dat)), ifelse(home, dat$village, dat$respondent_id), FUN = sum)
dat$psu2 <- ifelse(home, dat$village, dat$respondent_id)
dat$hh <- ifelse(home, dat$household, dat$respondent_id)
dat$fpc1 <- ifelse(home, dat$villages_in_unit, dat$fpc)
dat$fpc2 <- ifelse(home, dat$households_in_village, 1)
dat$w <- ifelse(home, dat$villages_in_unit / dat$villages_drawn * dat$households_in_village / answered *
                  dat$adults, dat$weight)

# criteria and their weights in elements, aspects and the index
crit <- unlist(lapply(meth$elements, function(e) sapply(e$criteria, `[[`, "id")))
K <- length(crit)
for (k in seq_len(K)) {   # numerator (4 or 5) and denominator (a valid answer 1-5)
  y <- dat[[crit[k]]]; ok <- !is.na(y) & y %in% 1:5
  dat[paste0(c("n", "d"), k)] <- list(as.numeric(ok & y >= 4), as.numeric(ok))
}
W <- list()
for (e in meth$elements) {
  ids <- sapply(e$criteria, `[[`, "id")
  W[[e$id]] <- setNames(as.numeric(crit %in% ids) / length(ids), crit)
}
aspect_of <- sapply(meth$elements, `[[`, "aspect")
for (a in meth$aspects) W[[a$id]] <- Reduce(`+`, W[sapply(meth$elements, `[[`, "id")[aspect_of == a$id]]) /
  sum(aspect_of == a$id)
W[["sipas"]] <- Reduce(`+`, W[sapply(meth$aspects, `[[`, "id")]) / length(meth$aspects)

# raking variables and population margins
other <- "(khác)"
rest <- sum(dat$w[!home])
grouped <- function(var, codes) {
  g <- mar$groups[[var]]
  out <- codes
  if (!is.null(g)) for (lv in names(g)) out[codes %in% unlist(g[[lv]])] <- lv
  out
}
dat$rake_unit <- ifelse(home, dat$unit_id, other)
pop <- list(data.frame(rake_unit = c(names(mar$adults), other), Freq = c(unlist(mar$adults), rest)))
for (v in c("gender", "age_band", "ethnicity")) {
  rv <- paste0("rake_", v)
  dat[[rv]] <- ifelse(home, grouped(v, dat[[v]]), other)
  m <- mar$margins[[v]]
  df <- data.frame(names(m), c(unlist(m)), stringsAsFactors = FALSE)
  df[nrow(df) + 1, ] <- list(other, rest)
  names(df) <- c(rv, "Freq")
  pop[[length(pop) + 1]] <- df
}
design0 <- svydesign(id = ~psu2 + hh, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~w, data = dat)
design <- rake(design0, list(~rake_unit, ~rake_gender, ~rake_age_band, ~rake_ethnicity), pop)

out <- data.frame(scope = character(), item = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(scope, item, stat, value)
  out[nrow(out) + 1, ] <<- list(scope, item, stat, sprintf("%.17g", as.numeric(value)))

num <- as.formula(paste("~", paste0("n", seq_len(K), collapse = "+")))
den <- as.formula(paste("~", paste0("d", seq_len(K), collapse = "+")))
sel <- paste0("n", seq_len(K), "/d", seq_len(K))
# R's degf of the design restricted to the rows in `keep` (degf.survey.design2: first-stage
# clusters minus strata among the rows whose weight is not 0), without a subset copy per criterion
degf_rows <- function(d, keep) {
  inset <- keep & weights(d, "sampling") != 0
  length(unique(d$cluster[inset, 1])) - length(unique(d$strata[inset, 1]))
}
scope_values <- function(scope, d) {
  r <- svyratio(num, den, d, covmat = TRUE)
  V <- vcov(r)[sel, sel]; b <- coef(r)[sel]
  ok <- colSums(d$variables[, paste0("d", seq_len(K))]) > 0
  for (k in which(ok)) {
    put(scope, crit[k], "estimate", b[k]); put(scope, crit[k], "se", sqrt(V[k, k]))
    valid <- d$variables[[paste0("d", k)]] == 1
    put(scope, crit[k], "n", sum(valid)); put(scope, crit[k], "df", degf_rows(d, valid))
  }
  if (!all(ok)) return(invisible())   # a criterion nobody answered: combinations re-weighted, not checked
  for (nm in names(W)) {
    cf <- W[[nm]]
    put(scope, nm, "estimate", sum(cf * b)); put(scope, nm, "se", sqrt(drop(t(cf) %*% V %*% cf)))
  }
}
for (u in sort(unique(dat$unit_id))) scope_values(u, subset(design, unit_id == u))
scope_values("province", design)
stopifnot(degf_rows(design, rep(TRUE, nrow(dat))) == degf(design))
put("design", "weights", "sum", sum(weights(design)))
put("design", "weights", "sum_squares", sum(weights(design)^2))

write.csv(out, file.path(here, "sipas_reference_2025.csv"), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
