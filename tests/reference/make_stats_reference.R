# Reference values for tests/test_reliability_drivers.py: Cronbach's alpha with Feldt's
# interval and item-rest correlations (psych), and design-based logistic regressions
# (survey::svyglm, quasibinomial), computed independently of the Python code.
#
#   apt-get install r-cran-survey r-cran-psych
#   Rscript tests/reference/make_stats_reference.R
#
# Inputs: apiclus1.csv, apistrat.csv (the survey package's api data, see make_reference.R)
# and sipas_demo_2023.csv (six whole units of the demo 2023 data, make_sipas_fixture.py).
# Writes stats_reference.csv: case, term, stat, value (17 significant digits).
# glm is run to epsilon 1e-13 so that the coefficients are converged far below the
# tests' tolerances.
suppressMessages({ library(survey); library(psych) })
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))

out <- data.frame(case = character(), term = character(), stat = character(),
                  value = character(), stringsAsFactors = FALSE)
put <- function(case, term, stat, value)
  out[nrow(out) + 1, ] <<- list(case, term, stat, sprintf("%.17g", as.numeric(value)))
ctl <- glm.control(epsilon = 1e-13, maxit = 100)

put_glm <- function(case, fit) {
  s <- summary(fit)$coefficients
  ci <- confint(fit)                     # Wald, t quantile on df.residual
  for (term in rownames(s)) {
    put(case, term, "coef", s[term, 1])
    put(case, term, "se", s[term, 2])
    put(case, term, "p", s[term, 4])
    put(case, term, "or_low", exp(ci[term, 1]))
    put(case, term, "or_high", exp(ci[term, 2]))
  }
  put(case, "", "df", fit$df.residual)
  put(case, "", "n", length(fit$y))
}

# ---------------------------------------------------------------- api data
strat <- read.csv(file.path(here, "apistrat.csv"), stringsAsFactors = FALSE)
clus <- read.csv(file.path(here, "apiclus1.csv"), stringsAsFactors = FALSE)
strat$stype <- factor(strat$stype, levels = c("E", "H", "M"))
clus$stype <- factor(clus$stype, levels = c("E", "H", "M"))
strat$yes <- as.numeric(strat$sch.wide == "Yes")
clus$yes <- as.numeric(clus$sch.wide == "Yes")
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = strat)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = clus)
put_glm("api_clus1_logit", svyglm(yes ~ meals + stype, dclus1, family = quasibinomial, control = ctl))
put_glm("api_strat_logit", svyglm(yes ~ meals + api99, dstrat, family = quasibinomial, control = ctl))

# ---------------------------------------------------------------- SIPAS demo subset
options(survey.lonely.psu = "adjust")
dat <- read.csv(file.path(here, "sipas_demo_2023.csv"), stringsAsFactors = FALSE)
crit <- grep("^c[0-9]+_[0-9]+$", names(dat), value = TRUE)
elements <- split(crit, sub("_.*", "", crit))            # c1 -> c1_1..c1_4, ...
score <- as.data.frame(lapply(dat[crit], function(y) ifelse(!is.na(y) & y %in% 1:5, y, NA)))

# Cronbach's alpha per element on complete cases (the whole fixture = one scope)
for (e in names(elements)) {
  x <- na.omit(score[, elements[[e]]])
  a <- suppressWarnings(psych::alpha(x))
  case <- paste0("alpha_", e)
  put(case, "", "n", nrow(x))
  put(case, "", "alpha", a$total$raw_alpha)
  put(case, "", "std_alpha", a$total$std.alpha)
  put(case, "", "feldt_low", a$feldt$lower.ci)
  put(case, "", "feldt_high", a$feldt$upper.ci)
  for (item in elements[[e]]) {
    put(case, item, "item_rest", a$item.stats[item, "r.drop"])
    put(case, item, "alpha_if_deleted", a$alpha.drop[item, "raw_alpha"])
  }
}

# respondent shares per element, satisfied overall (own index >= 0.5), and without e1
share <- sapply(elements, function(cs) {
  pos <- rowSums(score[cs] >= 4, na.rm = TRUE)
  val <- rowSums(!is.na(score[cs]))
  ifelse(val > 0, pos / val, NA)
})
sat_of <- function(s) { m <- rowMeans(s, na.rm = TRUE); ifelse(is.nan(m), NA, as.numeric(m >= 0.5)) }
dat$satisfied <- sat_of(share)
dat$satisfied_rest_c1 <- sat_of(share[, setdiff(colnames(share), "c1"), drop = FALSE])
dat$e1_per10 <- share[, "c1"] / 0.1
dat$gender <- factor(dat$gender, levels = c("nam", "nu"))
dat$age_band <- factor(dat$age_band, levels = sort(unique(dat$age_band)))
dat$unit_type <- factor(dat$unit_type, levels = c("department", "district"))
design <- svydesign(id = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, data = dat)
put_glm("sipas_profile", svyglm(satisfied ~ gender + age_band + unit_type, design,
                                family = quasibinomial, control = ctl))
put_glm("sipas_element_e1", svyglm(satisfied_rest_c1 ~ e1_per10 + gender + age_band + unit_type, design,
                                   family = quasibinomial, control = ctl))

write.csv(out, file.path(here, "stats_reference.csv"), row.names = FALSE, quote = TRUE)
cat(nrow(out), "reference values written\n")
