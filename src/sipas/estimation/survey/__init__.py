"""Design-based estimation for complex survey samples, in the style of R's ``survey``.

Declare the design once, then call estimators; every estimator returns a tidy
:class:`pandas.DataFrame` with the same columns (:data:`COLUMNS`)::

    >>> from sipas.estimation.survey import SurveyDesign, difference
    >>> d = SurveyDesign(df, strata="stype", psu="dnum", weights="pw", fpc="fpc")
    >>> d.mean("api00")                                    # doctest: +SKIP
      variable    estimate        se  ci_low  ci_high ci_method  deff    n  n_eff  df
    0    api00  644.169399  23.54224  593.68   694.66      wald  9.35  183  19.58  14
    >>> d.proportion("sch.wide", value="Yes", by="stype")  # logit interval, per domain
    >>> d.ratio("api.stu", "enroll")
    >>> d.total("enroll")
    >>> d.chisq("sch.wide", "stype")                       # Rao-Scott F test
    >>> d2 = SurveyDesign(apiclus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])  # two stages

Modules, in the shape of R's package: :mod:`.design` (``svydesign``), :mod:`.variance`
(``svyrecvar``: the recursive multistage variance), :mod:`.estimators` and
:mod:`.linearized` (``svymean``, ``svytotal``, ``svyratio``, ``svyby``,
``svycontrast``), :mod:`.intervals` (``confint``, ``svyciprop``), :mod:`.tests`
(``svychisq``), :mod:`.calibration` (``postStratify``, ``rake``, ``calibrate``, and
weighting-class non-response adjustment).

Statistical definitions (each matches R ``survey`` 4.1; tests pin the numbers):

* **Design.** Stratified, multistage, weighted sample. Units of each stage are nested
  within the previous stage's units and within their strata (R's ``nest=TRUE``).
  ``fpc`` is per stage the population count of units in the stratum (or the sampling
  fraction); the stage's factor is ``(N_h - n_h)/N_h``.
* **Variance.** Taylor linearisation with R's recursive formula (``svyrecvar``): the
  first stage's between-PSU variance, plus, for each PSU, its second-stage variance
  times the first-stage sampling fraction, and so on; without fpc (or with
  ``ultimate_cluster=True``) only the first stage ("ultimate cluster"):
  ``V = sum_h f_h n_h/(n_h - 1) sum_j (z_hj - mean_h z)^2`` over PSU totals ``z_hj``.
* **Lonely PSUs** (strata with a single unit, at any stage), option ``lonely_psu``, as
  R's ``options(survey.lonely.psu=)``: ``"fail"`` (the default, as in R) refuses the
  design; ``"adjust"`` lets the stratum contribute ``f_h z_h^2`` (its total, not
  centred); ``"remove"`` and ``"certainty"`` let it contribute nothing at that stage
  (R treats the two alike); the stages below still contribute.
* **Domains** (``by=``) are estimated on the whole design: rows outside the domain
  contribute zeros, every stratum keeps its unit count, as R's ``svyby``/``subset``.
  Missing values of a variable put the row outside that estimate's base (``na.rm``).
* **Degrees of freedom** = PSUs - strata among the rows that enter the estimate
  (R's ``degf`` of the domain's subset design).
* **Design effect** (R's ``deff=TRUE``): design variance over the variance of the same
  estimator under simple random sampling *without* replacement of ``n`` from the
  estimated population ``N = sum w``: ``V_srs = (N - n)/(n - 1) * sum w r^2`` with ``r``
  the per-row linearised variable; for a mean this is R's ``svymean(deff=TRUE)``, for a
  ratio R's ``svyratio(deff=TRUE)``, for a total ``N^2`` times the mean's. NaN when
  ``N <= n`` (e.g. unweighted data).
* **Effective sample size** ``n_eff = n / max(deff, 1)`` (NCHS: a design effect below 1
  does not make the sample larger than it is).
* **Intervals** (``ci_method``): ``"wald"`` = estimate +/- t(df) SE (R ``svyciprop``
  ``method="mean"`` / ``confint(df=degf)``); ``"logit"`` = Wald interval on the logit
  scale, back-transformed (``svyciprop`` default); ``"beta"`` = Korn-Graubard with
  R's effective-n and degrees-of-freedom adjustment. At an estimate of exactly 0 or 1
  (zero variance) the logit interval does not exist; those rows get the Korn-Graubard
  interval with the effective n taken as n (as NCHS does), and say ``"beta"``.
* **PPS without replacement** (R's ``pps="brewer"``) is not supported: give a PPS
  first stage as a with-replacement design (no fpc at that stage), R's usual
  conservative approximation.
"""

from sipas.estimation.survey._data import _as_float, _check_level
from sipas.estimation.survey.calibration import CALFUNS, nonresponse_adjustment
from sipas.estimation.survey.design import LONELY_PSU, SurveyDesign
from sipas.estimation.survey.intervals import CI_METHODS, CONTRAST_COLUMNS, _expit, difference, interval, t_tests
from sipas.estimation.survey.linearized import COLUMNS, Linearized
from sipas.estimation.survey.tests import CHISQ_COLUMNS

__all__ = ["CALFUNS", "CHISQ_COLUMNS", "CI_METHODS", "COLUMNS", "CONTRAST_COLUMNS", "LONELY_PSU", "Linearized",
           "SurveyDesign", "_as_float", "_check_level", "_expit", "difference", "interval",
           "nonresponse_adjustment", "t_tests"]
