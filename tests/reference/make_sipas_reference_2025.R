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
# each element's content items, then its overall item; an element is its overall item
# (aggregation.element: overall_item) or the mean of its content items (mean)
crit <- unlist(lapply(meth$elements, function(e) c(sapply(e$criteria, `[[`, "id"), e$overall$id)))
K <- length(crit)
for (k in seq_len(K)) {   # numerator (4 or 5) and denominator (a valid answer 1-5)
  y <- dat[[crit[k]]]; ok <- !is.na(y) & y %in% 1:5
  dat[paste0(c("n", "d"), k)] <- list(as.numeric(ok & y >= 4), as.numeric(ok))
}
W <- list()
for (e in meth$elements) {
  ids <- if (identical(meth$aggregation$element, "overall_item")) e$overall$id else sapply(e$criteria, `[[`, "id")
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

out <- list()
put <- function(scope, item, stat, value)
  out[[length(out) + 1]] <<- data.frame(scope = scope, item = item, stat = stat,
                                        value = sprintf("%.17g", as.numeric(value)))

# Speed: the cost of svyratio/svytotal on this design is per call (the two-stage variance
# loops over ~3,800 PSUs: ~4.5 s a call whatever the columns), and svyratio(num, den) with
# K numerators and K denominators forms all K x K ratios. So, per chunk of scopes, one
# svytotal of the domain columns n_k * [unit], d_k * [unit] on the whole raked design
# (what subset() does: rows outside get weight 0, so their columns are 0), and the ratios
# n_k / d_k with svycontrast (delta method: the same linearisation as svyratio; the raked
# variance is a quadratic form in the columns, so the contrast of the totals' vcov equals
# svyratio's variance -- checked below on one ratio to 1e-12).
degf_rows <- function(d, keep) {   # R's degf (first-stage clusters minus strata) among `keep`
  inset <- keep & weights(d, "sampling") != 0
  length(unique(d$cluster[inset, 1])) - length(unique(d$strata[inset, 1]))
}
scopes <- c(sort(unique(dat$unit_id)), "province")
# for a trial run: SIPAS_REF_SCOPES=3 (the first 3 units), SIPAS_REF_OUT=another file
if (nzchar(Sys.getenv("SIPAS_REF_SCOPES"))) scopes <- head(scopes, as.integer(Sys.getenv("SIPAS_REF_SCOPES")))
# SIPAS_REF_PART=i/n: every n-th scope from the i-th, to run n processes side by side
# (about 25 min with 2); the files they write (SIPAS_REF_OUT) are then concatenated,
# keeping one header and one copy of the "design" rows:
#   for i in 1 2; do SIPAS_REF_PART=$i/2 SIPAS_REF_OUT=/tmp/ref$i.csv Rscript tests/reference/make_sipas_reference_2025.R & done; wait
#   (head -1 /tmp/ref1.csv; tail -q -n +2 /tmp/ref1.csv /tmp/ref2.csv | sort -u) > tests/reference/sipas_reference_2025.csv
if (nzchar(Sys.getenv("SIPAS_REF_PART"))) {
  p <- as.integer(strsplit(Sys.getenv("SIPAS_REF_PART"), "/")[[1]])
  scopes <- scopes[seq(p[1], length(scopes), by = p[2])]
}
inscope <- function(s) if (s == "province") rep(TRUE, nrow(dat)) else dat$unit_id == s
# ~55 s a scope on a shared 2-core machine (84 columns, 0.6 GB); 13 scopes a chunk took
# 10 GB and was no faster per scope, the cost being per column of the two-stage variance
chunk <- as.integer(Sys.getenv("SIPAS_REF_CHUNK", "1"))
for (part in split(scopes, ceiling(seq_along(scopes) / chunk))) {
  t0 <- proc.time()[["elapsed"]]
  cols <- list(); exprs <- list(); keys <- list()
  for (s in part) {
    keep <- inscope(s)
    for (k in seq_len(K)) if (sum(dat[[paste0("d", k)]][keep]) > 0) {
      nk <- sprintf("n%d_%d", k, match(s, scopes)); dk <- sprintf("d%d_%d", k, match(s, scopes))
      cols[[nk]] <- dat[[paste0("n", k)]] * keep; cols[[dk]] <- dat[[paste0("d", k)]] * keep
      exprs[[length(exprs) + 1]] <- parse(text = paste(nk, "/", dk))[[1]]
      keys[[length(keys) + 1]] <- c(s, k)
    }
  }
  tot <- svytotal(as.matrix(as.data.frame(cols)), design)
  r <- svycontrast(tot, exprs)
  b <- coef(r); V <- vcov(r)
  sc <- sapply(keys, `[`, 1); kk <- as.integer(sapply(keys, `[`, 2))
  for (s in part) {
    i <- which(sc == s); keep <- inscope(s)
    for (j in i) {
      k <- kk[j]
      put(s, crit[k], "estimate", b[j]); put(s, crit[k], "se", sqrt(V[j, j]))
      valid <- keep & dat[[paste0("d", k)]] == 1
      put(s, crit[k], "n", sum(valid)); put(s, crit[k], "df", degf_rows(design, valid))
    }
    if (length(i) < K) next   # a criterion nobody answered: combinations re-weighted, not checked
    for (nm in names(W)) {
      cf <- W[[nm]][crit[kk[i]]]
      put(s, nm, "estimate", sum(cf * b[i])); put(s, nm, "se", sqrt(drop(t(cf) %*% V[i, i] %*% cf)))
    }
  }
  cat(sprintf("%d scopes in %.1f s\n", length(part), proc.time()[["elapsed"]] - t0))
}
# the shortcut against svyratio on subset(), for one ratio of the first unit
chk <- svyratio(~n1, ~d1, subset(design, unit_id == scopes[1]))
got <- out[sapply(out, function(x) x$scope == scopes[1] && x$item == crit[1])]
stopifnot(abs(as.numeric(got[[2]]$value) - SE(chk)) < 1e-12 * SE(chk),
          abs(as.numeric(got[[1]]$value) - coef(chk)) < 1e-12)
stopifnot(degf_rows(design, rep(TRUE, nrow(dat))) == degf(design))
put("design", "weights", "sum", sum(weights(design)))
put("design", "weights", "sum_squares", sum(weights(design)^2))

out <- do.call(rbind, out)
write.csv(out, Sys.getenv("SIPAS_REF_OUT", file.path(here, "sipas_reference_2025.csv")), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
