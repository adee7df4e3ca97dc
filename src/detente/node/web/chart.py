"""Server-rendered SVG charts (no JavaScript): answer times against their deadlines.

A chart is a list of :class:`Bar` rows drawn as horizontal bars, each with its deadline as
a dashed mark, its status as colour AND as words at the end of the bar, and the same data
as an accessible title and description, so nothing is said by colour alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from html import escape

from detente.group.state import GroupState
from detente.group.views import ping_answers

__all__ = ["Bar", "BarStatus", "bar_chart", "incident_bars", "ping_bars"]

_ROW = 28
_LABEL = 230
_PLOT = 420
_TAIL = 190
_TOP = 26


class BarStatus(StrEnum):
    IN_TIME = "in time"
    LATE = "late"
    OPEN = "open"
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    hours: float  # time to answer, or open so far
    limit_hours: float | None  # the deadline, from the same start
    status: BarStatus


def _hours(delta: dt.timedelta) -> float:
    return max(delta.total_seconds() / 3600, 0.0)


def _status(answered: bool, late: bool) -> BarStatus:
    if answered:
        return BarStatus.LATE if late else BarStatus.IN_TIME
    return BarStatus.OVERDUE if late else BarStatus.OPEN


def incident_bars(state: GroupState, now: dt.datetime) -> list[Bar]:
    """Each incident, oldest first: hours until the first answer (or open so far)."""
    bars = []
    for incident in sorted(state.incidents.values(), key=lambda i: i.index):
        answers = list(incident.answered.values())
        end = min(answers) if answers else now
        late = end > incident.answer_by
        bars.append(
            Bar(
                incident.id,
                _hours(end - incident.issued_at),
                _hours(incident.answer_by - incident.issued_at),
                _status(bool(answers), late),
            )
        )
    return bars


def ping_bars(state: GroupState, now: dt.datetime) -> list[Bar]:
    """Each ping and addressee: hours until its point of contact acked (or open so far)."""
    bars = []
    for answer in ping_answers(state):
        end = answer.acked_at or now
        bars.append(
            Bar(
                f"{answer.ping} → {answer.party}",
                _hours(end - answer.sent_at),
                _hours(answer.reply_by - answer.sent_at),
                _status(answer.acked_at is not None, end > answer.reply_by),
            )
        )
    return bars


def _label(hours: float) -> str:
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def bar_chart(bars: list[Bar], title: str, chart_id: str) -> str:
    """An SVG figure (markup string) of ``bars``; empty bars give a short sentence instead."""
    if not bars:
        return f'<p class="empty">{escape(title)}: nothing yet.</p>'
    scale = max(max(b.hours for b in bars), max((b.limit_hours or 0) for b in bars), 1e-9)
    width = _LABEL + _PLOT + _TAIL
    height = _TOP + _ROW * len(bars) + 8
    summary = "; ".join(f"{b.label}: {_label(b.hours)}, {b.status.value}" for b in bars)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(summary)}</desc>',
        f'<text x="{_LABEL}" y="16" class="axis">0</text>',
        f'<text x="{_LABEL + _PLOT}" y="16" class="axis" text-anchor="end">'
        f"{escape(_label(scale))}</text>",
    ]
    for row, bar in enumerate(bars):
        y = _TOP + row * _ROW
        length = max(_PLOT * bar.hours / scale, 2)
        status = bar.status.value.replace(" ", "-")
        parts.append(
            f'<text x="{_LABEL - 8}" y="{y + 17}" text-anchor="end" class="label">'
            f"{escape(bar.label[:32])}</text>"
        )
        parts.append(
            f'<rect x="{_LABEL}" y="{y + 4}" width="{length:.1f}" height="{_ROW - 10}" '
            f'class="bar {status}"><title>{escape(bar.label)}: {_label(bar.hours)}</title></rect>'
        )
        if bar.limit_hours is not None:
            x = _LABEL + _PLOT * bar.limit_hours / scale
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + _ROW - 3}" '
                f'class="deadline"><title>deadline {_label(bar.limit_hours)}</title></line>'
            )
        parts.append(
            f'<text x="{_LABEL + _PLOT + 8}" y="{y + 17}" class="value {status}">'
            f"{escape(_label(bar.hours))} · {escape(bar.status.value)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
