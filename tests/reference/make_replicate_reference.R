# Reference values for tests/test_survey_replicate.py: jackknife replicate designs.
#
#   Rscript tests/reference/make_replicate_reference.R      (from the repository root)
#
# as.svrepdesign(type="JK1") on apiclus1 and type="JKn" on apistrat (the data written by
# make_reference.R), means, totals, ratios, logit intervals, domains, chisq. Writes
# replicate_reference.csv: case, domain, stat, value (17 significant digits). R survey 4.1.1.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
clus <- read.csv(file.path(here, "apiclus1.csv"))
strat <- read.csv(file.path(here, "apistrat.csv"))
options(survey.lonely.psu = "fail")

out <- data.frame(case = character(), domain = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(case, stat, value, domain = "") {
  value <- unname(as.numeric(value))
  out[nrow(out) + seq_along(value), ] <<- list(case, domain, stat, sprintf("%.17g", value))
}
put_est <- function(case, m, domain = "") {
  put(case, "estimate", coef(m), domain); put(case, "se", SE(m), domain)
}
run <- function(name, r) {
  put(name, "replicates", ncol(r$repweights$weights))
  put(name, "scale", r$scale); put(name, "rscales", r$rscales)
  put(name, "df", degf(r))
  put(name, "repw_row1", weights(r, "analysis")[1, ])
  put_est(paste0(name, "_mean_api00"), svymean(~api00, r))
  put_est(paste0(name, "_total_enroll"), svytotal(~enroll, r))
  put_est(paste0(name, "_ratio"), svyratio(~api.stu, ~enroll, r))
  p <- svyciprop(~I(sch.wide == "Yes"), r)
  put(paste0(name, "_ciprop"), "estimate", coef(p))
  put(paste0(name, "_ciprop"), "se", sqrt(attr(p, "var")))
  put(paste0(name, "_ciprop"), "ci_low", attr(p, "ci")[1]); put(paste0(name, "_ciprop"), "ci_high", attr(p, "ci")[2])
  b <- svyby(~api00, ~awards, r, svymean, covmat = TRUE)
  for (k in seq_len(nrow(b))) {
    put(paste0(name, "_by_awards"), "estimate", b$api00[k], as.character(b$awards[k]))
    put(paste0(name, "_by_awards"), "se", SE(b)[k], as.character(b$awards[k]))
  }
  put_est(paste0(name, "_contrast_awards"), svycontrast(b, c(No = 1, Yes = -1)))
  for (s in c("E", "H", "M")) {
    sub <- subset(r, stype == s)
    p <- svyciprop(~I(sch.wide == "Yes"), sub)
    put(paste0(name, "_ciprop_by_stype"), "se", sqrt(attr(p, "var")), s)
    put(paste0(name, "_ciprop_by_stype"), "ci_low", attr(p, "ci")[1], s)
    put(paste0(name, "_ciprop_by_stype"), "df", degf(sub), s)
  }
}
run("jk1", as.svrepdesign(svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = clus), type = "JK1"))
run("jk1_nofpc", as.svrepdesign(svydesign(id = ~dnum, weights = ~pw, data = clus), type = "JK1"))
run("jkn", as.svrepdesign(svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = strat), type = "JKn"))
# a lonely PSU (stratum A), removed from the replicates
options(survey.lonely.psu = "remove")
run("jkn_clus", as.svrepdesign(svydesign(id = ~dnum, strata = ~lstrat, weights = ~pw, fpc = ~lfpc, data = clus,
                                         nest = TRUE), type = "JKn"))

write.csv(out, file.path(here, "replicate_reference.csv"), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
