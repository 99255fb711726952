"""The questionnaire of a methodology (``params/methodology/*.yaml``): answer scales,
elements with their content criteria and overall items, aspects, aggregation rules,
perceptions, profile and expectations, and the queries on them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sipas.base.schema import _Model

# --------------------------------------------------------------------------- scales


class Code(_Model):
    code: int
    label: str
    aliases: list[str] = []


class Scale(_Model):
    label: str
    values: list[Code]
    positive: list[int]
    negative: list[int] = []
    missing: list[Code] = []

    @model_validator(mode="after")
    def _check(self) -> Scale:
        valid = {c.code for c in self.values}
        for name in ("positive", "negative"):
            extra = set(getattr(self, name)) - valid
            if extra:
                raise ValueError(f"{name} codes {sorted(extra)} are not among the scale's values {sorted(valid)}")
        clash = valid & {c.code for c in self.missing}
        if clash:
            raise ValueError(f"codes {sorted(clash)} are both valid and missing")
        return self

    @property
    def valid_codes(self) -> list[int]:
        return [c.code for c in self.values]

    @property
    def missing_codes(self) -> list[int]:
        return [c.code for c in self.missing]

    def label_of(self, code: int) -> str:
        for c in (*self.values, *self.missing):
            if c.code == code:
                return c.label
        raise KeyError(code)


# ------------------------------------------------------------------ questionnaire


class Criterion(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: list[str] = []
    scale: str | None = None


class Element(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    short_label: str | None = None  # for table headers and chart axes; defaults to label
    aspect: str | None = None
    criteria: list[Criterion] = Field(min_length=1)   # the content items
    # the element's overall item ("... nói chung"), asked after its content items; used
    # where the methodology says so (``aggregation.element``, ``satisfied_overall.items``)
    overall: Criterion | None = None

    @property
    def items(self) -> list[Criterion]:
        """The content items, then the overall item if there is one."""
        return [*self.criteria, *([self.overall] if self.overall else [])]


class Aspect(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    short_label: str | None = None


class Aggregation(_Model):
    """How indices are formed. ``element``: ``mean`` of its content items' indices, or
    ``overall_item``: the index of its overall item. An aspect (a sub-index) is the mean
    of its elements; SIPAS the mean of the aspects when there are aspects, else of the
    elements."""

    criterion: Literal["share_positive"] = "share_positive"
    element: Literal["mean", "overall_item"] = "mean"
    aspect: Literal["mean"] = "mean"
    index: Literal["mean"] = "mean"


class SatisfiedOverall(_Model):
    """A respondent is "satisfied overall" when their own index is at least
    ``threshold``: the mean over the elements they answered of the share of their valid
    answers that are positive, among the element's content items (``criteria``) or its
    overall item (``overall``)."""

    items: Literal["criteria", "overall"] = "criteria"
    threshold: float = Field(0.5, gt=0, le=1)


class PublishedFigure(_Model):
    """A figure published for this methodology (e.g. the Ministry's national results),
    kept as reference: ``item`` is the id of an index of this methodology (``sipas``, an
    aspect, an element or an item); ``value`` in percent."""

    year: int
    scope: str = "national"
    item: str
    value: float = Field(ge=0, le=100)
    source: str
    note: str = ""


class Category(_Model):
    code: str
    label: str
    aliases: list[str] = []


class Variable(_Model):
    """A profile, admin or personal column of the questionnaire."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: list[str] = []
    type: Literal["category", "integer", "text", "date"] = "text"
    categories: list[Category] = []
    min: int | None = None
    max: int | None = None
    required: bool = False
    positive: list[str] = []  # category codes that count as a positive perception

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data):
        if isinstance(data, dict) and data.get("categories") and "type" not in data:
            data = {**data, "type": "category"}
        return data

    @model_validator(mode="after")
    def _check(self) -> Variable:
        if self.type == "category" and not self.categories:
            raise ValueError(f"variable '{self.id}' is a category but lists no categories")
        extra = set(self.positive) - {c.code for c in self.categories}
        if extra:
            raise ValueError(f"variable '{self.id}': positive codes {sorted(extra)} are not among its categories")
        return self

    def label_of(self, code: str) -> str:
        for c in self.categories:
            if c.code == code:
                return c.label
        raise KeyError(code)


class Item(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    aliases: list[str] = []


class Expectations(_Model):
    """Improvement priorities: multiple choice (no ``categories``: each item chosen or
    not), or each item rated on ``categories`` with ``top`` the codes that count."""

    label: str
    items: list[Item]
    categories: list[Category] = []
    top: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> Expectations:
        if bool(self.categories) != bool(self.top):
            raise ValueError("expectations: give both `categories` and `top`, or neither (multiple choice)")
        extra = set(self.top) - {c.code for c in self.categories}
        if extra:
            raise ValueError(f"expectations: top codes {sorted(extra)} are not among the categories")
        return self

    @property
    def rated(self) -> bool:
        return bool(self.categories)


class Methodology(_Model):
    id: str
    title: str
    short_title: str
    index_label: str
    scales: dict[str, Scale]
    default_scale: str
    aspects: list[Aspect] = []
    elements: list[Element] = Field(min_length=1)
    aggregation: Aggregation = Aggregation()
    satisfied_overall: SatisfiedOverall = SatisfiedOverall()
    perceptions: list[Variable] = []
    profile: list[Variable] = []
    expectations: Expectations | None = None
    comment: Variable | None = None
    published: list[PublishedFigure] = []

    @model_validator(mode="after")
    def _check(self) -> Methodology:
        if self.default_scale not in self.scales:
            raise ValueError(f"default_scale '{self.default_scale}' is not one of the scales {sorted(self.scales)}")
        ids: list[str] = [e.id for e in self.elements] + [a.id for a in self.aspects]
        ids += [c.id for e in self.elements for c in e.items]
        ids += [v.id for v in self.profile] + [v.id for v in self.perceptions]
        if self.expectations:
            ids += [i.id for i in self.expectations.items]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"ids used more than once: {dup}")
        aspect_ids = {a.id for a in self.aspects}
        for e in self.elements:
            for c in e.items:
                if c.scale and c.scale not in self.scales:
                    raise ValueError(f"criterion '{c.id}' uses unknown scale '{c.scale}'")
            if aspect_ids and e.aspect not in aspect_ids:
                raise ValueError(f"element '{e.id}' must name one of the aspects {sorted(aspect_ids)}")
            if not aspect_ids and e.aspect:
                raise ValueError(f"element '{e.id}' names aspect '{e.aspect}' but no aspects are defined")
        for rule, key in ((self.aggregation.element == "overall_item", "aggregation.element: overall_item"),
                          (self.satisfied_overall.items == "overall", "satisfied_overall.items: overall")):
            missing = [e.id for e in self.elements if rule and e.overall is None]
            if missing:
                raise ValueError(f"{key} needs an `overall` item in every element; "
                                 f"elements {missing} have none")
        known = {"sipas", *ids}
        bad = sorted({f.item for f in self.published} - known)
        if bad:
            raise ValueError(f"published: items {bad} are not indices or items of this methodology")
        return self

    # ------------------------------------------------------------ item queries

    @property
    def criteria(self) -> list[Criterion]:
        """The content items of every element (no overall items)."""
        return [c for e in self.elements for c in e.criteria]

    @property
    def criterion_ids(self) -> list[str]:
        return [c.id for c in self.criteria]

    @property
    def items(self) -> list[Criterion]:
        """Every rated item, element by element: its content items, then its overall
        item. The same as :attr:`criteria` when no element has an overall item."""
        return [c for e in self.elements for c in e.items]

    @property
    def item_ids(self) -> list[str]:
        return [c.id for c in self.items]

    @property
    def overall_ids(self) -> list[str]:
        return [e.overall.id for e in self.elements if e.overall]

    def scale_of(self, criterion: str | Criterion) -> Scale:
        c = criterion if isinstance(criterion, Criterion) else self.criterion(criterion)
        return self.scales[c.scale or self.default_scale]

    def criterion(self, cid: str) -> Criterion:
        """A rated item (content or overall) by id."""
        for c in self.items:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def element_of(self, cid: str) -> Element:
        for e in self.elements:
            if any(c.id == cid for c in e.items):
                return e
        raise KeyError(cid)

    def element_members(self, e: Element) -> list[Criterion]:
        """The items whose indices make the element's index (``aggregation.element``)."""
        return [e.overall] if self.aggregation.element == "overall_item" and e.overall else list(e.criteria)

    def respondent_items(self, e: Element) -> list[Criterion]:
        """The items that make a respondent's own score on ``e`` (``satisfied_overall``)."""
        return [e.overall] if self.satisfied_overall.items == "overall" and e.overall else list(e.criteria)

    def index_weights(self) -> list[float]:
        """Weight of each of :attr:`items` in SIPAS when every item's index is known:
        1 / (number of tops x elements in the aspect x members of the element), 0 for an
        item that is not a member of its element's index."""
        in_aspect = {a.id: sum(e.aspect == a.id for e in self.elements) for a in self.aspects}
        out = []
        for e in self.elements:
            members = {c.id for c in self.element_members(e)}
            top = len(self.aspects) * in_aspect[e.aspect] if self.aspects else len(self.elements)
            out += [1.0 / (top * len(members)) if c.id in members else 0.0 for c in e.items]
        return out

    def profile_var(self, vid: str) -> Variable:
        for v in self.profile:
            if v.id == vid:
                return v
        raise KeyError(vid)

    def labels(self) -> dict[str, str]:
        """Vietnamese label of every element, aspect and item id, and the index."""
        out = {a.id: a.label for a in self.aspects}
        for e in self.elements:
            out[e.id] = e.label
            out.update({c.id: c.label for c in e.items})
        out["sipas"] = self.index_label
        return out

    def short_labels(self) -> dict[str, str]:
        """Short label of every element and aspect (falls back to the label)."""
        return {x.id: x.short_label or x.label for x in (*self.aspects, *self.elements)}
