# Reference values for tests/test_survey.py, computed with R's survey package.
#
#   Rscript tests/reference/make_reference.R        (run from the repository root)
#
# Writes, next to this script:
#   apistrat.csv, apiclus1.csv   the survey package's `api` data (columns used here)
#   api_reference.csv            case, domain, stat, value (17 significant digits)
#
# Every number the Python tests compare against comes from this script; nothing is
# typed in by hand. Derived variables (band, y1..y3, lonely-PSU strata) are computed
# here and exported with the data, so both sides read identical inputs.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
data(api)
options(survey.lonely.psu = "fail")

cols <- c("cds", "stype", "dnum", "snum", "pw", "fpc", "api00", "api99", "enroll",
          "api.stu", "meals", "sch.wide", "comp.imp", "awards")
band <- function(x) as.character(cut(x, c(0, 600, 700, 1000), labels = c("lo", "mid", "hi")))

strat <- apistrat[, cols]
strat$band <- band(strat$api00)

clus <- apiclus1[, cols]
clus$band <- band(clus$api00)
# SIPAS-like criteria: 0/1 answers, NA = no valid answer (excluded from the base)
clus$y1 <- as.numeric(clus$api00 > 700)
clus$y2 <- ifelse(clus$sch.wide == "No", NA, as.numeric(clus$api99 > 650))
clus$y3 <- ifelse(clus$meals > 60, NA, as.numeric(clus$awards == "Yes"))
# lonely-PSU design: the first district alone in stratum A
dn <- sort(unique(clus$dnum))
clus$lstrat <- ifelse(clus$dnum == dn[1], "A", ifelse(clus$dnum <= dn[8], "B", "C"))
clus$lfpc <- c(A = 2, B = 300, C = 450)[clus$lstrat]

write.csv(strat, file.path(here, "apistrat.csv"), row.names = FALSE, na = "")
write.csv(clus, file.path(here, "apiclus1.csv"), row.names = FALSE, na = "")

out <- data.frame(case = character(), domain = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(case, stat, value, domain = "") {
  value <- unname(as.numeric(value))
  out[nrow(out) + seq_along(value), ] <<- list(case, domain, stat, sprintf("%.17g", value))
}
put_mean <- function(case, m, design, domain = "") {   # svymean / svyratio-like object
  put(case, "estimate", coef(m), domain)
  put(case, "se", SE(m), domain)
  if (!is.null(attr(m, "deff"))) put(case, "deff", attr(m, "deff"), domain)
  df <- degf(design)
  put(case, "df", df, domain)
  ci <- confint(m, df = df)
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
  put(case, "n", nrow(design), domain)
}
put_chisq <- function(case, formula, design, domain = "") {
  t <- svychisq(formula, design)
  put(case, "F", t$statistic, domain)
  put(case, "ndf", t$parameter["ndf"], domain)
  put(case, "ddf", t$parameter["ddf"], domain)
  put(case, "p", t$p.value, domain)
  N <- sum(complete.cases(design$variables[, all.vars(formula)]))
  x2 <- suppressWarnings(chisq.test(svytable(formula, design, Ntotal = N), correct = FALSE))
  put(case, "chisq", x2$statistic, domain)
}

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = strat)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = clus)

# ---- means, deff, df
put_mean("strat_mean_api00", svymean(~api00, dstrat, deff = TRUE), dstrat)
put_mean("clus1_mean_api00", svymean(~api00, dclus1, deff = TRUE), dclus1)
for (s in c("E", "H", "M")) {
  sub <- subset(dclus1, stype == s)
  put_mean("clus1_mean_api00_by_stype", svymean(~api00, sub, deff = TRUE), sub, s)
  sub <- subset(dstrat, stype == s)
  put_mean("strat_mean_api00_by_stype", svymean(~api00, sub, deff = TRUE), sub, s)
}
# svyby gives the same domain estimates as the subsets above (checked here, not assumed)
b <- svyby(~api00, ~stype, dclus1, svymean, deff = TRUE)
stopifnot(isTRUE(all.equal(unname(SE(b)), sapply(c("E", "H", "M"), function(s)
  unname(SE(svymean(~api00, subset(dclus1, stype == s))))), check.attributes = FALSE)))

# ---- proportions (svyciprop) and the share with sch.wide == "Yes" by stype
put_ciprop("clus1_prop_schwide", dclus1, ~I(sch.wide == "Yes"))
put_mean("clus1_propmean_schwide", svymean(~as.numeric(sch.wide == "Yes"), dclus1, deff = TRUE), dclus1)
for (s in c("E", "H", "M")) {
  sub <- subset(dclus1, stype == s)
  put_ciprop("clus1_prop_schwide_by_stype", sub, ~I(sch.wide == "Yes"), s)
  put("clus1_prop_schwide_by_stype", "deff",
      attr(svymean(~as.numeric(sch.wide == "Yes"), sub, deff = TRUE), "deff"), s)
}
put_ciprop("strat_prop_schwide", dstrat, ~I(sch.wide == "Yes"))
# a proportion among valid answers only (NA excluded), SIPAS criterion style
sub <- subset(dclus1, !is.na(y2))
put_ciprop("clus1_prop_y2", sub, ~I(y2 == 1))
put("clus1_prop_y2", "deff", attr(svymean(~y2, sub, deff = TRUE), "deff"))

# ---- ratios
r <- svyratio(~api.stu, ~enroll, dclus1, deff = TRUE)
put("clus1_ratio", "estimate", coef(r)); put("clus1_ratio", "se", SE(r))
put("clus1_ratio", "deff", attr(r, "deff")); put("clus1_ratio", "df", degf(dclus1))
for (s in c("E", "H", "M")) {
  sub <- subset(dclus1, stype == s)
  r <- svyratio(~api.stu, ~enroll, sub, deff = TRUE)
  put("clus1_ratio_by_stype", "estimate", coef(r), s); put("clus1_ratio_by_stype", "se", SE(r), s)
  put("clus1_ratio_by_stype", "deff", attr(r, "deff"), s)
}

# ---- linear combinations of ratios with different denominators (svycontrast)
# criteria k = 1..3: ratio of n_k = y_k (0 where NA) to d_k = 1 if y_k is valid
# element ea = mean(r1, r2); element eb = r3; index = mean(ea, eb)
lincom <- function(design, domain) {
  v <- design$variables
  for (k in 1:3) {
    y <- v[[paste0("y", k)]]
    design$variables[[paste0("n", k)]] <- ifelse(is.na(y), 0, y)
    design$variables[[paste0("d", k)]] <- as.numeric(!is.na(y))
  }
  r <- svyratio(~n1 + n2 + n3, ~d1 + d2 + d3, design, covmat = TRUE)
  sel <- c("n1/d1", "n2/d2", "n3/d3")
  for (k in 1:3) {
    put("clus1_lincom", paste0("r", k, "_estimate"), coef(r)[sel[k]], domain)
    put("clus1_lincom", paste0("r", k, "_se"), sqrt(vcov(r)[sel[k], sel[k]]), domain)
  }
  w <- list(ea = c(1/2, 1/2, 0), eb = c(0, 0, 1), index = c(1/4, 1/4, 1/2), ea_minus_eb = c(1/2, 1/2, -1))
  for (nm in names(w)) {
    cf <- setNames(rep(0, length(coef(r))), names(coef(r)))
    cf[sel] <- w[[nm]]
    cc <- svycontrast(r, cf)
    put("clus1_lincom", paste0(nm, "_estimate"), coef(cc), domain)
    put("clus1_lincom", paste0(nm, "_se"), SE(cc), domain)
  }
  v <- design$variables
  put("clus1_lincom", "index_df", degf(subset(design, d1 + d2 + d3 > 0)), domain)
  put("clus1_lincom", "index_n", sum(v$d1 + v$d2 + v$d3 > 0), domain)
}
lincom(dclus1, "")
for (s in c("E", "H", "M")) lincom(subset(dclus1, stype == s), s)

# ---- differences: within one design (domain contrast) and independent samples
b <- svyby(~api00, ~stype, dclus1, svymean, covmat = TRUE)
cc <- svycontrast(b, c(E = 1, H = -1))
put("clus1_contrast_E_minus_H", "estimate", coef(cc)); put("clus1_contrast_E_minus_H", "se", SE(cc))
cc <- svycontrast(b, c(E = 1/3, H = 1/3, M = 1/3))
put("clus1_contrast_mean_of_domains", "estimate", coef(cc)); put("clus1_contrast_mean_of_domains", "se", SE(cc))
# independent samples: stack both samples as one design with disjoint strata
comb <- rbind(
  data.frame(src = "strat", psu = paste0("s", seq_len(nrow(strat))), str = paste0("s", strat$stype),
             pw = strat$pw, fpc = strat$fpc, api00 = strat$api00),
  data.frame(src = "clus", psu = paste0("c", clus$dnum), str = "c",
             pw = clus$pw, fpc = clus$fpc, api00 = clus$api00))
dcomb <- svydesign(id = ~psu, strata = ~str, weights = ~pw, fpc = ~fpc, data = comb)
b <- svyby(~api00, ~src, dcomb, svymean, covmat = TRUE)
cc <- svycontrast(b, c(clus = 1, strat = -1))
put("independent_clus_minus_strat", "estimate", coef(cc))
put("independent_clus_minus_strat", "se", SE(cc))
put("independent_clus_minus_strat", "df", degf(dcomb))
put("independent_clus_minus_strat", "p", 2 * pt(-abs(coef(cc) / SE(cc)), degf(dcomb)))

# ---- Rao-Scott chi-square (svychisq default: statistic = "F")
put_chisq("clus1_chisq_schwide_stype", ~sch.wide + stype, dclus1)
put("clus1_chisq_schwide_stype", "design_df", degf(dclus1))
put_chisq("strat_chisq_stype_band", ~stype + band, dstrat)
put_chisq("clus1_chisq_schwide_band_E", ~sch.wide + band, subset(dclus1, stype == "E"), "E")

# ---- lonely PSU: stratum A has one PSU
for (opt in c("adjust", "remove", "certainty")) {
  options(survey.lonely.psu = opt)
  for (fp in c("nofpc", "fpc")) {
    d <- if (fp == "fpc") svydesign(id = ~dnum, strata = ~lstrat, weights = ~pw, fpc = ~lfpc, data = clus)
         else svydesign(id = ~dnum, strata = ~lstrat, weights = ~pw, data = clus)
    case <- paste0("lonely_", opt, "_", fp)
    put_mean(case, svymean(~api00, d), d)
    for (s in c("E", "H", "M")) put_mean(case, svymean(~api00, subset(d, stype == s)), subset(d, stype == s), s)
  }
}
options(survey.lonely.psu = "fail")

write.csv(out, file.path(here, "api_reference.csv"), row.names = FALSE)
cat("wrote", nrow(out), "reference values with survey", as.character(packageVersion("survey")), "\n")
