"""Counts in captions read as English: one epoch, two epochs."""

from models.text import about, counted, duration


def test_counted_is_singular_for_one_only() -> None:
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "epoch") == "0 epochs"
    assert counted(2, "run") == "2 runs"
    assert counted(1300, "image") == "1,300 images"
    assert counted(3, "box", "boxes") == "3 boxes"


def test_a_duration_is_never_zero_seconds() -> None:
    """#28 follow-up: after a 100-step BatchNorm run the page estimated "About 0 s"."""
    assert duration(0.4) == "0.4 s" and duration(0.023) == "0.023 s"
    assert duration(0) == duration(1e-5) == "under 0.01 s"
    assert duration(9.96) == "10 s" and duration(89.6) == "90 s" and duration(90) == "1.5 minutes"
    assert duration(4.24) == "4.2 s"
    assert duration(35.4) == "35 s"
    assert duration(150) == "2.5 minutes"


def test_an_estimate_under_a_second_is_not_about() -> None:
    """Estimates under a second said to the millisecond were falsely precise: a walk read "about 0.032 s" for a sweep
    that took 0.55 s (the one-off cost of a process's first run). Under 0.01 s it read "under 0.01 s" before."""
    assert about(4.24) == "about 4.2 s" and about(1.0) == "about 1.0 s"
    assert about(0.001) == about(0.032) == about(0.99) == "under a second"


def test_a_linked_row_is_a_whole_number_within_the_table() -> None:
    from models.text import row_number

    assert [row_number(t, 5) for t in ("1", "5", "0", "6", "-1", "2.0", "", "٣", "1" * 7, None)] == [
        0,
        4,
        *[None] * 8,
    ]


def test_a_probability_that_rounds_to_zero_reads_under_a_tenth_of_a_percent() -> None:
    """One wording on every page: a walk read "<0.1%" on Classify and "0.0%" for the same class on Attributions."""
    from models.text import percent

    assert [percent(p) for p in (0.1234, 0.0005, 0.00049, 0.0)] == ["12.3%", "0.1%", "<0.1%", "<0.1%"]


def test_a_probability_under_one_that_rounds_to_a_hundred_reads_over_the_last_step() -> None:
    """A walk read a detection of score 0.998 as "star 100%": a certainty the detector did not claim."""
    from models.text import percent

    assert [percent(p) for p in (0.9994, 0.9995, 0.99999, 1.0)] == ["99.9%", ">99.9%", ">99.9%", "100.0%"]
    assert percent(float("nan")) == "not a number"  # a diverged network's output read "nan%" (a review)
    at_whole = (0.96, 0.994, 0.996, 0.998, 1.0, 0.004, 0.006)
    assert [percent(p, 0) for p in at_whole] == ["96%", "99%", ">99%", ">99%", "100%", "<1%", "1%"]


def test_an_error_in_one_line_names_its_type_where_it_has_no_message():
    """Pages showed `str(exc).splitlines()[0]`, which raised IndexError for an error without a message."""
    from models.text import first_line

    assert first_line(AssertionError()) == "AssertionError"
    assert first_line(ValueError("the crop is larger\nthan the image")) == "the crop is larger"
    assert first_line(ValueError("abcdef"), 3) == "abc"


def test_a_number_in_a_link_names_the_option_equal_to_it_however_it_is_written():
    """A person types `bn_lr=1` or `0.50`; the widget's labels are "1.0" and "0.5"."""
    from models.text import number_named, same_values

    options = [0.01, 0.1, 0.5, 1.0]
    assert [number_named(t, options) for t in ("0.50", "5e-1", ".5", "1", "1.0", "0.10", "1e-2")] == [
        2,
        2,
        2,
        3,
        3,
        1,
        0,
    ]
    assert [number_named(t, options) for t in ("0.3", "abc", "", "inf", "nan", None, "0." + "0" * 40 + "1")] == [
        None
    ] * 7
    assert number_named("5", [1, 5, 10]) == 1  # whole-number options too
    # plain ASCII decimals only: float() reads these as other numbers (a review: `bn_lr=0_5` showed 5.0)
    assert [number_named(t, [0.5, 5.0, 16]) for t in ("0_5", "٥", "５", " 0.5", "0.5\n", "1_6", "0x1p-1")] == [None] * 7
    assert same_values(["0.50"], ["0.5"]) and same_values(["a", "1"], ["a", "1.0"])
    assert (
        not same_values(["0.5"], ["0.5", "1"]) and not same_values(["nan"], ["NaN"]) and not same_values(["a"], ["b"])
    )


def test_text_from_a_visitor_is_shown_as_code_and_what_cannot_be_shown_is_replaced() -> None:
    """A loopback review: a lone surrogate cannot be sent to the browser (it stopped a page), an empty value was drawn
    as two backticks, and 1,000 names made a 97 KB line."""
    from models.text import code_span, code_spans, printable

    assert printable("a\tb\ud800c") == "a b\ufffdc"
    assert code_span("**b** `x`") == "`**b** 'x'`" and code_span("x" * 70, 60) == f"`{'x' * 60}…`"
    assert code_span("") == "*(empty)*" and code_span("  ") == "*(2 spaces)*"
    assert code_spans(["a", "b"]) == "`a`, `b`"
    assert code_spans([str(i) for i in range(1000)]) == "`0`, `1`, `2`, `3`, `4` and 995 more"
