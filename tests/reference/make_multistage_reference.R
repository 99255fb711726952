# Reference values for tests/test_survey_multistage.py: multistage designs, totals.
#
#   Rscript tests/reference/make_multistage_reference.R     (from the repository root)
#
# Writes, next to this script:
#   apiclus2.csv                 the survey package's two-stage `apiclus2` (columns used),
#                                with derived columns for the stratified and lonely cases
#   multistage_reference.csv     case, domain, stat, value (17 significant digits)
# R survey 4.1.1 (Debian r-cran-survey). Nothing here is typed in by hand.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
data(api)
options(survey.lonely.psu = "fail")

cols <- c("cds", "stype", "dnum", "snum", "pw", "fpc1", "fpc2", "api00", "api99", "enroll",
          "api.stu", "meals", "sch.wide", "awards")
clus2 <- apiclus2[, cols]
clus2$fpc2 <- as.numeric(clus2$fpc2)
# a stratified version: two first-stage strata of districts (illustrative counts)
clus2$str1 <- ifelse(clus2$dnum <= median(unique(clus2$dnum)), "A", "B")
clus2$sfpc1 <- c(A = 400, B = 357)[clus2$str1]
# a lonely-unit version: districts with one sampled school get N = 2 schools
one <- ave(clus2$snum, clus2$dnum, FUN = length) == 1
clus2$lfpc2 <- ifelse(one, 2, clus2$fpc2)
# fractions instead of counts
clus2$frac1 <- 40 / clus2$fpc1
clus2$frac2 <- ave(clus2$snum, clus2$dnum, FUN = length) / clus2$fpc2
write.csv(clus2, file.path(here, "apiclus2.csv"), row.names = FALSE, na = "")

out <- data.frame(case = character(), domain = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(case, stat, value, domain = "") {
  value <- unname(as.numeric(value))
  out[nrow(out) + seq_along(value), ] <<- list(case, domain, stat, sprintf("%.17g", value))
}
put_est <- function(case, m, design, domain = "") {
  put(case, "estimate", coef(m), domain)
  put(case, "se", SE(m), domain)
  if (!is.null(attr(m, "deff"))) put(case, "deff", attr(m, "deff"), domain)
  put(case, "df", degf(design), domain)
  ci <- confint(m, df = degf(design))
  put(case, "ci_low", ci[1], domain); put(case, "ci_high", ci[2], domain)
}
put_ciprop <- function(case, design, formula, domain = "") {
  for (method in c("logit", "beta", "mean")) {
    p <- svyciprop(formula, design, method = method)
    ci <- attr(p, "ci")
    put(case, paste0(method, "_ci_low"), ci[1], domain)
    put(case, paste0(method, "_ci_high"), ci[2], domain)
  }
  put(case, "estimate", coef(p), domain)
  put(case, "se", sqrt(attr(p, "var")), domain)
  put(case, "df", degf(design), domain)
}
put_chisq <- function(case, formula, design) {
  t <- svychisq(formula, design)
  put(case, "F", t$statistic); put(case, "ndf", t$parameter["ndf"])
  put(case, "ddf", t$parameter["ddf"]); put(case, "p", t$p.value)
}

d2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = clus2)
put("clus2_weights", "max_abs_diff_pw", max(abs(weights(d2) - clus2$pw)))
put_est("clus2_mean_api00", svymean(~api00, d2, deff = TRUE), d2)
# degrees of freedom of an estimate with missing values: those of its complete rows
nna <- function(d) subset(d, !is.na(enroll))
put_est("clus2_total_enroll", svytotal(~enroll, d2, na.rm = TRUE, deff = TRUE), nna(d2))
put_est("clus2_ratio", svyratio(~api.stu, ~enroll, d2, na.rm = TRUE), nna(d2))
put_ciprop("clus2_prop_schwide", d2, ~I(sch.wide == "Yes"))
b <- svyby(~api00, ~stype, d2, svymean, deff = TRUE)
for (s in c("E", "H", "M")) {
  sub <- subset(d2, stype == s)
  m <- svymean(~api00, sub, deff = TRUE)
  stopifnot(isTRUE(all.equal(as.numeric(SE(m)), as.numeric(SE(b)[match(s, b$stype)]))))
  put_est("clus2_mean_api00_by_stype", m, sub, s)
  put_est("clus2_total_enroll_by_stype", svytotal(~enroll, sub, na.rm = TRUE), nna(sub), s)
  put_ciprop("clus2_prop_schwide_by_stype", sub, ~I(sch.wide == "Yes"), s)
}
put_chisq("clus2_chisq_schwide_stype", ~sch.wide + stype, d2)
put_chisq("clus2_chisq_awards_stype", ~awards + stype, d2)

# ultimate cluster: the first stage only
options(survey.ultimate.cluster = TRUE)
put_est("clus2_uc_mean_api00", svymean(~api00, d2), d2)
put_chisq("clus2_uc_chisq_schwide_stype", ~sch.wide + stype, d2)
options(survey.ultimate.cluster = FALSE)

# fpc given as sampling fractions
df2 <- svydesign(id = ~dnum + snum, fpc = ~frac1 + frac2, data = clus2)
put_est("clus2_frac_mean_api00", svymean(~api00, df2), df2)

# stratified two-stage
ds <- svydesign(id = ~dnum + snum, strata = ~str1, fpc = ~sfpc1 + fpc2, data = clus2, nest = TRUE)
put_est("clus2_strat_mean_api00", svymean(~api00, ds), ds)
put_est("clus2_strat_total_enroll", svytotal(~enroll, ds, na.rm = TRUE), nna(ds))
put("clus2_strat_weights", "sum", sum(weights(ds)))
for (s in c("E", "H", "M")) put_est("clus2_strat_mean_api00_by_stype",
                                    svymean(~api00, subset(ds, stype == s)), subset(ds, stype == s), s)

# lonely units at the second stage
for (opt in c("adjust", "remove", "certainty")) {
  options(survey.lonely.psu = opt)
  dl <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + lfpc2, weights = ~pw, data = clus2)
  put_est(paste0("clus2_lonely_", opt, "_mean"), svymean(~api00, dl), dl)
  put_est(paste0("clus2_lonely_", opt, "_total"), svytotal(~enroll, dl, na.rm = TRUE), nna(dl))
}
options(survey.lonely.psu = "fail")

write.csv(out, file.path(here, "multistage_reference.csv"), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
