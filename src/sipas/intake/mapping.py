"""The codebook seen from a raw file: which header is which question, and what each
answer means.

Built once per year from :class:`sipas.base.codebook.YearConfig` (methodology, fields,
registry); nothing here knows a question by name except the admin ids of
``params/fields.yaml`` (respondent_id, unit_id, commune, interviewer, interview_date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sipas.base.codebook import Unit, YearConfig
from sipas.base.errors import ConfigError

from .normalize import Lookup, as_number, clean_text, header_key, is_blank, nfc

# Column kinds, in the order the processed table lists them.
ADMIN, PERSONAL, PROFILE, CRITERION, EXPECTATION, PERCEPTION, COMMENT = (
    "admin", "personal", "profile", "criterion", "expectation", "perception", "comment")
# Kinds whose cells are answers to the questionnaire (a bad value: ``invalid_answer``;
# a bad profile value: ``invalid_profile``).
ANSWER_KINDS = (PROFILE, CRITERION, EXPECTATION, PERCEPTION)

_TRUE = {"x", "1", "co", "có", "yes", "y", "true", "đúng", "dung", "✓", "✔", "v", "chọn", "chon"}
_FALSE = {"0", "khong", "không", "no", "n", "false", "-", "sai"}
_UNIT_PREFIXES = ("uy ban nhan dan", "ubnd")
_UNIT_TYPE_WORDS = ("huyen", "thanh pho", "thi xa", "so", "ban")
_COMMUNE_PREFIXES = ("phuong", "xa", "thi tran")


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: str
    aliases: tuple[str, ...] = ()
    type: str = "text"          # text | date | category | integer | code | bool
    required: bool = False
    choices: tuple[str, ...] = ()  # category labels, for "expected one of ..." messages


@dataclass
class Codebook:
    """Columns of the year's questionnaire and the look-ups that map raw answers."""

    cfg: YearConfig
    columns: list[Column] = field(default_factory=list)
    header_index: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)
    ranges: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    code_sets: dict[str, tuple[set[int], set[int]]] = field(default_factory=dict)
    unit_lookup: Lookup = field(default_factory=Lookup)
    unit_short: Lookup = field(default_factory=Lookup)
    commune_lookups: dict[str, Lookup] = field(default_factory=dict)
    commune_short: dict[str, Lookup] = field(default_factory=dict)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_config(cls, cfg: YearConfig) -> Codebook:
        cb = cls(cfg)
        m, f = cfg.methodology, cfg.fields
        for v in f.admin:
            cb._add(Column(v.id, v.label, ADMIN, tuple(v.aliases), v.type, v.required))
        for v in f.personal:
            cb._add(Column(v.id, v.label, PERSONAL, tuple(v.aliases)))
        for v in m.profile:
            cb._add_variable(v, PROFILE)
        for c in m.items:   # content and overall items
            cb._add(Column(c.id, c.label, CRITERION, tuple(c.aliases), "code", True))
            scale = m.scale_of(c)
            lk = Lookup()
            for code in (*scale.values, *scale.missing):
                for text in (str(code.code), code.label, *code.aliases):
                    lk.add(text, code.code)
            cb.lookups[c.id] = lk
            cb.code_sets[c.id] = (set(scale.valid_codes), set(scale.missing_codes))
        if m.expectations:
            exp = m.expectations
            for it in exp.items:
                if exp.rated:    # each item rated on the expectation categories
                    cb._add(Column(it.id, it.label, EXPECTATION, tuple(it.aliases), "category",
                                   choices=tuple(c.label for c in exp.categories)))
                    cb.lookups[it.id] = _category_lookup(exp.categories)
                else:            # multiple choice: chosen or not
                    cb._add(Column(it.id, it.label, EXPECTATION, tuple(it.aliases), "bool"))
        for v in m.perceptions:
            cb._add_variable(v, PERCEPTION)
        if m.comment:
            cb._add(Column(m.comment.id, m.comment.label, COMMENT, tuple(m.comment.aliases)))
        for u in cfg.units:
            for text in (u.id, u.name):
                cb.unit_lookup.add(text, u.id)
            lk = Lookup()
            for name in u.communes:
                lk.add(name, name)
            cb.commune_lookups[u.id] = lk
        # second pass: names without "UBND"/"Phường"/"Xã" prefixes, only where unique
        cb._add_short_names()
        return cb

    def _add_variable(self, v, kind: str) -> None:
        """A profile question or a perception topic: categories, integer or text."""
        self._add(Column(v.id, v.label, kind, tuple(v.aliases), v.type,
                         choices=tuple(c.label for c in v.categories)))
        if v.type == "category":
            self.lookups[v.id] = _category_lookup(v.categories)
        elif v.type == "integer":
            self.ranges[v.id] = (v.min, v.max)

    def _add(self, col: Column) -> None:
        self.columns.append(col)
        for text in (col.id, col.label, *col.aliases):
            k = header_key(text)
            other = self.header_index.get(k)
            if other and other != col.id:
                raise ConfigError(
                    f"header '{text}' would match both '{other}' and '{col.id}'",
                    file=self.cfg.paths.params, hint="make labels and aliases unique")
            self.header_index[k] = col.id

    def _add_short_names(self) -> None:
        """Fallback look-ups: names without their type word ("Huyện", "Xã", ...)."""
        for u in self.cfg.units:
            short = _without_prefix(u.name, _UNIT_TYPE_WORDS)
            if short:
                self.unit_short.add(short, u.id)
            lk = self.commune_short.setdefault(u.id, Lookup())
            for name in u.communes:
                short = _without_prefix(name, _COMMUNE_PREFIXES)
                if short:
                    lk.add(short, name)

    # ---------------------------------------------------------------- access
    def column(self, cid: str) -> Column:
        for c in self.columns:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def ids(self, kind: str) -> list[str]:
        return [c.id for c in self.columns if c.kind == kind]

    @property
    def required_ids(self) -> list[str]:
        return [c.id for c in self.columns if c.required]

    def match_header(self, header: object) -> str | None:
        """The codebook id a header names: its id, label or an alias; else the last part
        of a KoboToolbox/ODK group path (``grp_c1/C1_1``, ``grp-c1-C1_1`` is not split);
        else a numbered question written "Câu 1.1" / "Q1.1" / "C1.1" (-> ``c1_1``)."""
        if is_blank(header) or (isinstance(header, str) and header.startswith("_")):
            return None      # KoboToolbox/ODK metadata (_id, _uuid, _index ...) names no question
        key = header_key(header)
        cid = self.header_index.get(key)
        if cid is None and isinstance(header, str) and "/" in header:
            cid = self.header_index.get(header_key(header.rsplit("/", 1)[-1]))
        if cid is None:
            m = _NUMBERED.match(key)
            if m:
                cid = self.header_index.get(f"c{m.group(1)}_{m.group(2)}")
        return cid

    # ------------------------------------------------------------ answers
    def unit(self, value: object) -> tuple[Unit | None, str]:
        """The registry unit named by a cell (id, name, name without "UBND"/"Huyện"...)."""
        text = clean_text(value)
        if text is None:
            return None, "blank"
        uid, why = self.unit_lookup.get(text)
        if uid is None:
            bare = _without_prefix(text, _UNIT_PREFIXES) or text
            uid, why2 = self.unit_lookup.get(bare)
            if uid is None:
                uid, why2 = self.unit_short.get(bare)
                short = _without_prefix(bare, _UNIT_TYPE_WORDS)
                if uid is None and short:
                    uid, why2 = self.unit_short.get(short)
            why = why2 if uid is None and why2 == "ambiguous" else why
        if uid is None:
            uid = self._abbreviated(text) or None
        return (self.cfg.registry.unit(uid) if uid else None), ("" if uid else why)

    def _abbreviated(self, text: str) -> str | None:
        """A unit named the way sheet tabs abbreviate: "H. Than Uyên", "TP Lai Châu",
        "TX. ...", "Sở TN&MT" (initials of the name after its type word); unique only."""
        m = _ABBREV.match(nfc(text))
        if m:
            full = _ABBREV_WORDS[header_key(m.group(1))] + " " + m.group(2)
            uid, _ = self.unit_lookup.get(full)
            if uid:
                return uid
        words = nfc(text).split(maxsplit=1)
        if len(words) < 2:
            return None
        typ, rest = header_key(words[0]), header_key(words[1]).replace("_", "")
        hits = {u.id for u in self.cfg.units
                if header_key(u.name.split()[0]) == typ and _initials(u.name) == rest}
        return hits.pop() if len(hits) == 1 else None

    def commune(self, unit_id: str, value: object) -> tuple[str | None, str]:
        text = clean_text(value)
        if text is None:
            return None, "blank"
        name, why = self.commune_lookups[unit_id].get(text)
        if name is None:
            short = _without_prefix(text, _COMMUNE_PREFIXES) or text
            name, why = self.commune_short[unit_id].get(short)
        return name, why

    def criterion(self, cid: str, value: object, labels: dict | None = None) -> tuple[int | None, str]:
        """Code of an answer: ``(code, "")``, ``(None, "")`` for blank, ``(None, why)``."""
        if is_blank(value):
            return None, ""
        valid, missing = self.code_sets[cid]
        if labels and value in labels:
            code, why = self.lookups[cid].get(str(labels[value]))
            if code is not None:
                return int(code), ""
        num = as_number(value)
        if num is not None:
            if num.is_integer() and int(num) in valid | missing:
                return int(num), ""
            return None, "out_of_range"
        code, why = self.lookups[cid].get(str(value))
        return (int(code), "") if code is not None else (None, why)

    def category(self, vid: str, value: object, labels: dict | None = None) -> tuple[str | None, str]:
        if is_blank(value):
            return None, ""
        if labels and value in labels:
            code, why = self.lookups[vid].get(str(labels[value]))
            if code is not None:
                return str(code), ""
        text = clean_text(value)
        code, why = self.lookups[vid].get(text)
        return (str(code), "") if code is not None else (None, why)

    def integer(self, vid: str, value: object) -> tuple[int | None, str]:
        if is_blank(value):
            return None, ""
        num = as_number(value)
        if num is None or not num.is_integer():
            return None, "not_integer"
        lo, hi = self.ranges.get(vid, (None, None))
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            return None, "out_of_range"
        return int(num), ""

    @staticmethod
    def flag(value: object, labels: dict | None = None) -> tuple[bool | None, str]:
        if is_blank(value):
            return False, ""
        if labels and value in labels:
            value = labels[value]
        text = clean_text(value)
        num = as_number(value)
        if num is not None:
            return (num != 0, "") if num in (0, 1) else (None, "unknown")
        t = text.casefold() if text else ""
        if t in _TRUE:
            return True, ""
        if t in _FALSE:
            return False, ""
        return None, "unknown"


_NUMBERED = re.compile(r"^(?:cau_hoi|cau|q|c)_?(\d+)_(\d+)$")
_ABBREV = re.compile(r"^\s*(H|TP|TX|TT)\.?\s+(\S.*)$", re.I)
_ABBREV_WORDS = {"h": "Huyện", "tp": "Thành phố", "tx": "Thị xã", "tt": "Thị trấn"}
_SKIP_WORDS = {"va", "-", "&", ","}


def _initials(name: str) -> str:
    """``"Sở Tài nguyên và Môi trường"`` -> ``"tnmt"`` (type word and "và" left out)."""
    words = [w for w in re.split(r"[\s,\-]+", nfc(name))[1:] if w and header_key(w) not in _SKIP_WORDS]
    return "".join(header_key(w)[:1] for w in words)


def _category_lookup(categories) -> Lookup:
    lk = Lookup()
    for c in categories:
        for text in (c.code, c.label, *c.aliases):
            lk.add(text, c.code)
    return lk


def _without_prefix(text: str, prefixes: tuple[str, ...]) -> str | None:
    """``text`` without a leading type word (compared without diacritics), or None."""
    words = nfc(text).split()
    keys = [header_key(w) for w in words]
    for p in prefixes:
        n = len(p.split())
        if keys[:n] == p.split() and len(words) > n:
            return " ".join(words[n:])
    return None


from .dates import parse_date  # noqa: E402,F401  (re-exported: the row mapper's date reader)
