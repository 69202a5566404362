"""Planning covers every day exactly once for any mix of days and record counts."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from qbo_ingest.pipeline.planning import SECONDS_PER_DAY, Span, contiguous_runs, day_slices, split_run
from qbo_ingest.windows import day_window

UTC = timezone.utc
D0 = date(2025, 3, 1)
FAST = settings(max_examples=200, deadline=2000)

day_sets = st.lists(st.integers(0, 120), min_size=0, max_size=60).map(lambda xs: [D0 + timedelta(days=x) for x in xs])
counts = st.one_of(st.none(), st.integers(0, 3_000_000))


@FAST
@given(days=day_sets)
def test_contiguous_runs_partition_the_days_into_maximal_runs(days: list[date]) -> None:
    runs = contiguous_runs(days)
    flat = [d for r in runs for d in r]
    assert flat == sorted(set(days))  # each day once, in order
    for r in runs:
        assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(r))
    for a, b in itertools.pairwise(runs):
        assert b[0] - a[-1] > timedelta(days=1)  # maximal: a gap separates runs


def _check_cover(run: list[date], spans: list[Span]) -> None:
    """The spans' windows tile the run's days exactly: no gap, no overlap, nothing outside."""
    pieces = sorted((s.window.start, s.window.end) for s in spans)
    assert pieces[0][0] == day_window(min(run)).start
    assert pieces[-1][1] == day_window(max(run)).end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    for s in spans:
        w = s.window
        assert w.start < w.end
        # `days` are exactly the UTC days the stream touches
        first, last = w.start.date(), (w.end - timedelta(microseconds=1)).date()
        assert list(s.days) == [first + timedelta(days=i) for i in range((last - first).days + 1)]


@FAST
@given(days=day_sets, count_by_run=st.lists(counts, min_size=1, max_size=8), page_size=st.integers(1, 1000),
       max_streams=st.integers(1, 12), pages_per_stream=st.integers(1, 10))
def test_planning_covers_every_day_once_for_any_mix_of_counts(
        days: list[date], count_by_run: list[int | None], page_size: int, max_streams: int,
        pages_per_stream: int) -> None:
    every: list[tuple[datetime, datetime]] = []
    for i, run in enumerate(contiguous_runs(days)):
        count = count_by_run[i % len(count_by_run)]
        spans = split_run(run, count=count, page_size=page_size, max_streams=max_streams,
                          pages_per_stream=pages_per_stream)
        _check_cover(run, spans)
        assert 1 <= len(spans) <= max_streams
        if count is None or count <= page_size * pages_per_stream:
            assert spans == [Span(tuple(run))]  # one stream: a second one would cost an extra page
        else:
            wanted = min(max_streams, -(-count // (page_size * pages_per_stream)))
            if wanted <= len(run):  # whole-day spans, never more than asked
                assert min(2, wanted) <= len(spans) <= wanted and not any(sp.is_slice for sp in spans)
            else:  # more streams than days: every stream asked for is a slice of one day
                assert len(spans) == wanted
        if any(sp.is_slice for sp in spans):  # days cut whole-second, day-aligned, evenly across days
            assert all(len(sp.days) == 1 for sp in spans)
            per_day = [sum(1 for sp in spans if sp.days == (d,)) for d in run]
            assert max(per_day) - min(per_day) <= 1
            assert all(sp.window.start.microsecond == 0 and sp.window.end.microsecond == 0 for sp in spans)
        else:  # whole-day spans of about equal length: only the last may be shorter
            sizes = [len(sp.days) for sp in spans]
            assert all(n == sizes[0] for n in sizes[:-1]) and sizes[-1] <= sizes[0]
        every.extend((s.window.start, s.window.end) for s in spans)
    # across runs, too, no instant is fetched twice and every day of `days` is fetched
    every.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(every))
    covered = {d for d in set(days) if any(a <= day_window(d).start and day_window(d).end <= b for a, b in every)}
    sliced = {d for d in set(days) if d not in covered}
    for d in sliced:  # a sliced day is covered by its slices together
        parts = sorted(p for p in every if day_window(d).start <= p[0] < day_window(d).end)
        assert parts[0][0] == day_window(d).start and parts[-1][1] == day_window(d).end


@FAST
@given(d=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), n=st.integers(-2, 400),
       second=st.integers(0, SECONDS_PER_DAY - 1))
def test_day_slices_tile_the_day_and_hold_each_instant_once(d: date, n: int, second: int) -> None:
    slices = day_slices(d, n)
    assert len(slices) == max(1, n)
    _check_cover([d], slices)
    t = day_window(d).start + timedelta(seconds=second, microseconds=500_000)
    assert sum(1 for s in slices if s.window.start <= t < s.window.end) == 1
    if n > 1:
        lengths = {(s.window.end - s.window.start).total_seconds() for s in slices}
        assert max(lengths) - min(lengths) <= 1  # equal to the second


def test_split_run_shapes() -> None:
    run = [D0 + timedelta(days=i) for i in range(10)]
    assert split_run([], count=10, page_size=1000, max_streams=4) == []
    assert split_run(run, count=None, page_size=1000, max_streams=4) == [Span(tuple(run))]
    assert split_run(run, count=5000, page_size=1000, max_streams=4) == [Span(tuple(run))]  # 5 pages: one stream
    two = split_run(run, count=5001, page_size=1000, max_streams=4)
    assert [s.days for s in two] == [tuple(run[:5]), tuple(run[5:])]
    three = split_run(run[::-1], count=15_000, page_size=1000, max_streams=3)
    assert [s.days for s in three] == [tuple(run[0:4]), tuple(run[4:8]), tuple(run[8:10])]
    assert len(split_run(run, count=10**9, page_size=1000, max_streams=4)) == 4
    assert split_run(run, count=0, page_size=1000, max_streams=4) == [Span(tuple(run))]
    # a dense pair of days with 5 streams: 3 slices of the first day, 2 of the second
    dense = split_run(run[:2], count=25_000, page_size=1000, max_streams=5)
    assert [s.days for s in dense] == [(run[0],)] * 3 + [(run[1],)] * 2
    assert dense[0].label == "2025-03-01T00:00:00Z..2025-03-01T08:00:00Z"
    assert dense[3].window.end == day_window(run[1]).start + timedelta(hours=12)
    # pages_per_stream decides when a second stream pays off
    assert len(split_run(run, count=2001, page_size=1000, max_streams=4, pages_per_stream=2)) == 2
    assert len(split_run(run, count=2000, page_size=1000, max_streams=4, pages_per_stream=2)) == 1


def test_span_labels_and_windows() -> None:
    whole = Span((D0, D0 + timedelta(days=1)))
    assert not whole.is_slice and whole.label == "2025-03-01..2025-03-02"
    assert whole.window == day_window(D0).__class__(day_window(D0).start, day_window(D0 + timedelta(days=1)).end)
    start = datetime(2025, 3, 1, 6, tzinfo=UTC)
    only_start = Span((D0,), start=start)
    assert only_start.is_slice and only_start.window.start == start and only_start.window.end == day_window(D0).end
    only_end = Span((D0,), end=start)
    assert only_end.is_slice and only_end.window == day_window(D0).__class__(day_window(D0).start, start)
    assert only_end.label == "2025-03-01T00:00:00Z..2025-03-01T06:00:00Z"
    assert day_slices(D0, 1) == [Span((D0,))] and day_slices(D0, 0) == [Span((D0,))]
    three = day_slices(D0, 3)
    assert [s.window.start.hour for s in three] == [0, 8, 16] and three[-1].window.end == day_window(D0).end
    seven = day_slices(D0, 7)  # 86400 / 7 is not whole: cuts fall on whole seconds
    assert [int((s.window.start - day_window(D0).start).total_seconds()) for s in seven] == [
        0, 12342, 24685, 37028, 49371, 61714, 74057]


@FAST
@given(n_days=st.integers(1, 120), count=st.integers(0, 3_000_000), at=st.floats(0, 1), workers=st.integers(1, 10))
def test_hand_over_gives_away_exactly_the_pieces_after_the_running_stream(n_days, count, at, workers):
    """The pieces handed over are `split_run`'s pieces that start after the stream's position; with the
    piece the stream is in they tile the run (nothing loaded twice, nothing left out)."""
    from qbo_ingest.pipeline.planning import hand_over

    run = Span(tuple(D0 + timedelta(days=i) for i in range(n_days)))
    w = run.window
    position = w.start + timedelta(seconds=int((w.end - w.start).total_seconds() * at * 0.999))
    pieces = split_run(list(run.days), count=count, page_size=1000, max_streams=workers)
    new = hand_over(run, position, count, page_size=1000, max_streams=workers)
    assert new == pieces[len(pieces) - len(new):]
    assert all(p.window.start > position for p in new)
    kept = pieces[: len(pieces) - len(new)]
    assert kept and kept[-1].window.start <= position < (new[0].window.start if new else w.end)
