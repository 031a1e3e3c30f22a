"""The ``nmfaudio`` command line: the user-facing edge of the pipeline.

Every failure a user can cause ends as one line on stderr: exit status 2 for
usage errors, 1 for everything else, never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import glob
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from ._checks import (
    audio_format,
    frame_length,
    hop,
    mask_power,
    non_negative_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
    random_seed,
    sample_rate,
    subtype,
)
from ._version import __version__
from .defaults import (
    COMPONENTS_PER_SOURCE,
    FORMAT,
    FORMATS,
    HOP_LENGTH,
    MASK_POWER,
    METRICS_EXPLAINED,
    N_COMPONENTS,
    N_FFT,
    N_ITER,
    N_RESTARTS,
    SCORE_WINDOW,
    SEED,
    SOURCES_WINDOWS,
    TEMPLATE_CONTEXT,
    TEMPLATE_USE,
    TEMPLATE_USES,
    TOL,
)
from .exceptions import NmfaudioError, ParameterError
from .score import parse_spans
from .settings import Cost, Fit, Output, Settings, STFTConfig, check_beta

# The pipeline's modules (numpy, librosa, numba) are imported by the commands
# that use them, not here: `nmfaudio --version`, `--help` and usage errors answer
# at once.

PROG = "nmfaudio"
#: What ``--score`` without a file stands for: each input's score beside it.
_BESIDE = ""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line, and that takes options only
    as spelled (``--source`` is not ``--sources``: a typo is said, not guessed at)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _ExamplesAsWritten(argparse.HelpFormatter):
    """Help with its examples laid out as written, the rest filled to the terminal."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return text
        return super()._fill_text(text, width, indent)


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _checked(parse, check):
    """An argparse type: ``parse`` the text into a number, then the library's own ``check``
    of it, so the command line and the library refuse the same values with the same words."""

    def convert(text: str):
        value = parse(text)
        try:
            return check(value)
        except ParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _number_or_name(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _count(name: str, check=positive_int):
    """An argparse type: a count, checked as the library checks its ``name``."""
    return _checked(_integer, functools.partial(check, name))


def _weight(name: str, check=non_negative_float):
    """An argparse type: a number, checked as the library checks its ``name``."""
    return _checked(_real, functools.partial(check, name))


_hop = _checked(_integer, hop)
_n_fft = _checked(_integer, frame_length)
_sample_rate = _checked(_integer, functools.partial(sample_rate, "the sample rate"))
_seed = _checked(_integer, random_seed)
_mask_power = _checked(_real, mask_power)
_beta = _checked(_number_or_name, check_beta)
_subtype = _checked(str, subtype)
_format = _checked(str, audio_format)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Separate a music recording into parts with non-negative matrix factorization.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    for add in (_add_separate, _add_report, _add_plot, _add_learn, _add_evaluate):
        add(commands)
    return parser


def _add_separate(commands) -> None:
    sep = commands.add_parser(
        "separate",
        help="split a recording into components, sources or instruments",
        description=(
            "Split INPUT into K NMF components, written as OUTDIR/component_00.wav, ...;"
            " with --sources S, group them blindly into S sources (OUTDIR/source_00.wav, ...);"
            " with --templates, separate the instruments of learnt templates (OUTDIR/<name>.wav)."
            " Every file has the input's channels; together they add up to the input."
            " One file's parts go into OUTDIR; a folder's, a glob's or several files' into"
            " OUTDIR/<input stem>, each."
        ),
        epilog=SEPARATE_EXAMPLES,
        formatter_class=_ExamplesAsWritten,
    )
    sep.add_argument(
        "input", metavar="INPUT", type=Path, nargs="+",
        help="audio files (WAV, FLAC, OGG, MP3), folders of them or glob patterns",
    )  # fmt: skip
    _add_mode_options(sep.add_argument_group("what to separate into"))
    _add_model_options(sep.add_argument_group("the model"))
    _add_stft_options(sep.add_argument_group("STFT"))
    output = sep.add_argument_group("output")
    _add_output_options(output)
    output.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    _add_batch_options(sep.add_argument_group("several inputs"))
    sep.set_defaults(run=_run_separate, parser=sep)


SEPARATE_EXAMPLES = """examples:
  nmfaudio separate song.wav --sources 3 -o song_parts          three sources, blindly
  nmfaudio separate album/ -o separated --format flac --jobs 2  a folder, two at a time
"""


def _add_mode_options(parser) -> None:
    """The way of separating."""
    parser.add_argument(
        "-k",
        "--components",
        type=_count("n_components"),
        metavar="K",
        help=f"number of components (default: {N_COMPONENTS}, or {COMPONENTS_PER_SOURCE} per"
        " source with --sources)",
    )
    parser.add_argument(
        "--sources",
        type=_count("n_sources"),
        metavar="S",
        help="split into S sources blindly: components grouped by timbre, averaged over restarts",
    )
    parser.add_argument(
        "--restarts",
        type=_count("n_restarts"),
        metavar="R",
        help=f"with --sources: average the sources of R random starts (default: {N_RESTARTS})",
    )
    parser.add_argument(
        "--windows",
        nargs="+",
        type=_weight("windows", positive_float),
        metavar="SECONDS",
        help="with --sources: one consensus for each STFT window of these durations, each at"
        " least twice the next, the restarts shared among them, and each source the mean of"
        f" its matches (default: {_windows_default()})",
    )
    parser.add_argument(
        "--templates",
        nargs="+",
        type=Path,
        metavar="NPZ",
        help="template sets from 'nmfaudio learn': one output file per set",
    )
    parser.add_argument(
        "--extra",
        type=_count("n_extra", non_negative_int),
        metavar="K0",
        help="with --templates or --score: free components for the rest, written as rest.wav"
        " (default: none)",
    )
    parser.add_argument(
        "--templates-as",
        type=_checked(str, functools.partial(one_of, "use", choices=TEMPLATE_USES)),
        metavar="{" + ",".join(TEMPLATE_USES) + "}",
        help="with --templates: what the templates do: name the components of free fits,"
        " stay fixed (one fit, for the recording's own instruments), or be adapted to the"
        f" recording (default: {TEMPLATE_USE})",
    )
    parser.add_argument(
        "--score",
        nargs="?",
        const=_BESIDE,
        metavar="MIDI",
        help="the piece's score: one output file per instrument, named after its track;"
        " aligned to the recording first (written as score_aligned.mid). Without MIDI,"
        " each input's NAME.mid beside it (for folders)",
    )
    parser.add_argument(
        "--no-align",
        action="store_true",
        help="with --score: the score is already in time with the recording",
    )
    parser.add_argument(
        "--drums",
        action="append",
        metavar="NAME",
        help="with --score: this track is drums, whatever its channel (repeatable)",
    )
    parser.add_argument(
        "--active",
        action="append",
        type=_checked(str, parse_spans),
        metavar="NAME=SPANS",
        help="a part and when it plays, as NAME=0:00-0:12,1:05- (repeatable): a score of"
        " spans, for a recording without one; free templates active only then",
    )
    parser.add_argument(
        "--keep-components",
        action="store_true",
        help="with --sources, --templates or --score: also write the component files",
    )


def _add_batch_options(parser) -> None:
    """How several inputs are run."""
    parser.add_argument(
        "--jobs",
        type=_count("jobs"),
        metavar="J",
        help="with several inputs: separate J at once, in worker processes sharing the cores",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with several inputs: run them on a Dask cluster (tcp://host:8786); the files"
        " must be at the same paths on its workers",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="with several inputs: separate again those whose folder is complete (by"
        " default those done with the same settings are skipped, so an interrupted batch"
        " resumes; those done with other settings are separated again)",
    )


def _add_model_options(parser) -> None:
    """The fit, the cost and the masks."""
    _add_fit_options(parser)
    parser.add_argument(
        "--tol",
        type=_weight("tol"),
        help="stop when an iteration improves the loss by less than this"
        f" fraction; 0 runs all iterations (default: {TOL:g})",
    )
    _add_cost_options(parser)
    parser.add_argument(
        "--mask-power",
        type=_mask_power,
        metavar="P",
        help=f"soft-mask exponent, up to 8: 2 Wiener, 1 magnitude ratio (default: {MASK_POWER:g})",
    )


def _add_output_options(parser) -> None:
    """Where the parts go, how, and what is written beside them."""
    parser.add_argument(
        "-o",
        "--outdir",
        type=Path,
        metavar="OUTDIR",
        help="output directory (default: <input stem>_separated beside INPUT); with several"
        " inputs, the folder that gets one folder per input, OUTDIR/<input stem>",
    )
    parser.add_argument(
        "--sr",
        type=_sample_rate,
        metavar="HZ",
        help="resample to this rate first (default: keep the file's rate; with --templates,"
        " their rate)",
    )
    parser.add_argument(
        "--format",
        type=_format,
        metavar="FORMAT",
        help=f"the parts' file format: {', '.join(FORMATS)} (default: {FORMAT}); flac is"
        " lossless at about a fifth of the size, ogg and mp3 are lossy",
    )
    parser.add_argument(
        "--subtype",
        type=_subtype,
        help="sample encoding: "
        + "; ".join(f"{name} {', '.join(subtypes)}" for name, subtypes in FORMATS.items())
        + " (default: the first)",
    )
    parser.add_argument(
        "--plot",
        action="store_true",
        help="also write OUTDIR/decomposition.png and OUTDIR/components.png",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write OUTDIR/report.html, a page to hear and see the parts in a browser",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="DIR",
        help="with --report: score the parts against the true ones in DIR, shown in the page",
    )


def _add_report(commands) -> None:
    report = commands.add_parser(
        "report",
        help="write a listening report for a folder 'separate' wrote",
        description=(
            "Write OUTDIR/report.html for the parts an earlier 'nmfaudio separate' wrote"
            " into OUTDIR: one page, opened in a browser, to hear the parts in sync (solo,"
            " mute, one transport) and see their spectrograms and settings."
        ),
    )
    report.add_argument("outdir", metavar="OUTDIR", type=Path)
    report.add_argument(
        "--reference", type=Path, metavar="DIR",
        help="score the parts against the true ones in DIR, shown in the page",
    )  # fmt: skip
    report.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    report.set_defaults(run=_run_report, parser=report)


def _add_plot(commands) -> None:
    plot = commands.add_parser(
        "plot",
        help="draw a spectrogram as a PNG",
        description="Draw the dB magnitude spectrogram of INPUT on a log-frequency axis.",
    )
    plot.add_argument("input", metavar="INPUT", type=Path, help="audio file")
    plot.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PNG",
        help="image to write (default: <input stem>_spectrogram.png beside INPUT)",
    )
    _add_stft_options(plot)
    plot.add_argument(
        "--max-freq",
        type=_weight("--max-freq", positive_float),
        metavar="HZ",
        help="top of the frequency axis (default: half the sample rate)",
    )
    plot.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    plot.set_defaults(run=_run_plot, parser=plot)


def _add_learn(commands) -> None:
    learn = commands.add_parser(
        "learn",
        help="learn spectral templates of one instrument",
        description=(
            "Learn K spectral templates from isolated recordings of one instrument (NMF"
            " on their spectrograms) and save them, with their sample rate, STFT"
            " settings and cost, for 'nmfaudio separate --templates'."
        ),
    )
    learn.add_argument("files", metavar="FILE", type=Path, nargs="+", help="audio files")
    learn.add_argument(
        "-k", "--components", type=_count("n_components"), required=True, metavar="K",
        help="number of templates",
    )  # fmt: skip
    learn.add_argument(
        "-o", "--output", type=Path, required=True, metavar="NPZ", help="template file to write"
    )
    learn.add_argument(
        "--name", help="instrument name, used for the separated files (default: the NPZ's stem)"
    )
    learn.add_argument(
        "--context",
        type=_count("context"),
        metavar="C",
        help=f"frames each template spans (default: {TEMPLATE_CONTEXT})",
    )
    learn.add_argument(
        "--sr",
        type=_sample_rate,
        metavar="HZ",
        help="resample every file to this rate (default: the first file's rate)",
    )
    _add_stft_options(learn)
    _add_fit_options(learn)
    _add_cost_options(learn)
    learn.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    learn.set_defaults(run=_run_learn, parser=learn)


def _add_evaluate(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="score separated sources against the true ones",
        description=(
            "Score the audio files of ESTIMATE_DIR against those of REFERENCE_DIR (mixture"
            " skipped): BSS Eval SDR, SIR, SAR (mir_eval) and SI-SDR in dB, per source and"
            " their mean. Files are matched by name, else by the best permutation. "
            + METRICS_EXPLAINED
        ),
    )
    evaluate.add_argument("reference_dir", metavar="REFERENCE_DIR", type=Path)
    evaluate.add_argument("estimate_dir", metavar="ESTIMATE_DIR", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(run=_run_evaluate, parser=evaluate)


def _windows_default() -> str:
    if SOURCES_WINDOWS is None:
        return "one, with the STFT settings"
    return " ".join(f"{w:g}" for w in SOURCES_WINDOWS) + "; --n-fft or --hop: one, theirs"


def _add_stft_options(parser: argparse.ArgumentParser) -> None:
    # No defaults here: None tells "not given" (templates bring their own settings).
    parser.add_argument(
        "--n-fft",
        type=_n_fft,
        metavar="N",
        help=f"STFT frame length in samples (default: {N_FFT}; with --score, the power of two"
        f" nearest {SCORE_WINDOW:g} s, and the hop a quarter of it)",
    )
    parser.add_argument(
        "--hop",
        type=_hop,
        metavar="N",
        help=f"STFT hop in samples (default: {HOP_LENGTH})",
    )


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--iterations", type=_count("n_iter"), metavar="N",
        help=f"maximum NMF iterations (default: {N_ITER})",
    )  # fmt: skip
    parser.add_argument("--seed", type=_seed, help=f"random seed (default: {SEED})")


def _add_cost_options(parser: argparse.ArgumentParser) -> None:
    # No defaults here, nor for any setting: what is not given is the library's default.
    parser.add_argument(
        "--beta",
        type=_beta,
        metavar="B",
        help="divergence the NMF minimises: 0 or 'is' (Itakura-Saito), 1 or 'kl' (default),"
        " 2 or 'euclidean', or any number >= 0",
    )
    parser.add_argument(
        "--sparsity",
        type=_weight("sparsity"),
        metavar="A",
        help="weight of an L1 penalty on templates and activations (default: 0)",
    )
    parser.add_argument(
        "--continuity",
        type=_weight("continuity"),
        metavar="A",
        help="weight of a temporal continuity penalty on the activations (default: 0)",
    )


def _given(**values) -> dict:
    """The options the user gave: the library supplies every default."""
    return {name: value for name, value in values.items() if value is not None}


def _settings(args: argparse.Namespace) -> Settings:
    """The settings the options say (``separate`` and ``learn``)."""
    options = vars(args)
    return Settings(
        stft=STFTConfig(**_given(n_fft=args.n_fft, hop_length=args.hop)),
        cost=Cost.of(**_given(beta=args.beta, sparsity=args.sparsity, continuity=args.continuity)),
        fit=Fit(**_given(n_iter=args.iterations, tol=options.get("tol"), seed=args.seed)),
        **_given(mask_power=options.get("mask_power")),
    )


def _mode(args: argparse.Namespace):
    """The way of separating the options say; a contradiction among them is a usage error."""
    from .modes import Components, ScoreBeside, Sources, WithScore, WithTemplates
    from .score import Score
    from .settings import ScoreModel

    try:
        # --n-fft or --hop given: the STFT asked for, even where it is the default one.
        stft_given = args.n_fft is not None or args.hop is not None
        model = ScoreModel(window=None) if stft_given else ScoreModel()
        if args.score == _BESIDE:
            return ScoreBeside(
                **_given(n_extra=args.extra), align=not args.no_align,
                drums=tuple(args.drums or ()), model=model,
            )  # fmt: skip
        if args.score is not None or args.active:
            score = (
                Score.from_midi(args.score, drums=args.drums or ()) if args.score is not None
                else Score.from_spans(_spans(args.active))
            )  # fmt: skip
            return WithScore(
                score, **_given(n_extra=args.extra), align=not args.no_align, model=model
            )
        if args.templates:
            given = _given(n_extra=args.extra, use=args.templates_as)
            return WithTemplates(args.templates, **given)
        if args.sources:
            windows = tuple(args.windows) if args.windows else SOURCES_WINDOWS
            windows = None if stft_given else windows
            given = _given(n_restarts=args.restarts)
            return Sources(args.sources, args.components, **given, windows=windows)
        return Components(**_given(n_components=args.components))
    except ParameterError as exc:
        args.parser.error(str(exc))


def _output(args: argparse.Namespace) -> Output:
    """What to write beside the parts; a format that cannot hold the subtype is a usage error."""
    try:
        return Output(
            **_given(format=args.format, subtype=args.subtype), components=args.keep_components,
            plots=args.plot, report=args.report, reference=args.reference,
        )  # fmt: skip
    except ParameterError as exc:
        args.parser.error(str(exc))


def _spans(given: list[tuple[str, list]]) -> dict[str, list]:
    """``--active`` options by part: one part given twice has the spans of both."""
    spans: dict[str, list] = {}
    for name, part in given:
        spans.setdefault(name, []).extend(part)
    return spans


def _run_separate(args: argparse.Namespace) -> int:
    from .pipeline import collect_inputs, separate_file, separate_files

    _check_separate_options(args)
    common = dict(
        mode=_mode(args), settings=_settings(args), sr=args.sr,
        output=_output(args),
        about={"command": _command_line(args)}, progress=not args.quiet,
    )  # fmt: skip
    # One rule for where the parts go: one file's into OUTDIR; a folder's, a glob's or
    # several files' into OUTDIR/<input stem>, each.
    first = args.input[0]
    pattern = not first.exists() and glob.has_magic(str(first))
    batch = len(args.input) > 1 or first.is_dir() or pattern
    if not batch:
        for option, value in (("--jobs", args.jobs), ("--scheduler", args.scheduler)):
            if value is not None:
                args.parser.error(
                    f"{option} runs several inputs (a folder, a glob or several files);"
                    " one file uses every core on its own"
                )
        source = args.input[0]
        outdir = args.outdir or source.with_name(f"{source.stem}_separated")
        result = separate_file(source, outdir, **common)
        if not args.quiet:
            count = result.n_sources or result.n_components
            what = "sources" if result.sources else "components"
            print(
                f"wrote {count} {what} to {outdir} ({result.cost.describe()}"
                f" {result.losses[-1]:.6g} after {len(result.losses)} iterations)"
            )
        return 0
    if args.outdir is None:
        args.parser.error("several inputs need -o OUTROOT, the folder their folders go in")
    collect_inputs(args.input, args.outdir)  # a bad input is said before any work
    client = _client(args.scheduler) if args.scheduler else None
    try:
        results = separate_files(
            args.input, args.outdir, jobs=args.jobs, client=client, overwrite=args.overwrite,
            **common,
        )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    for _, message in results.failed:
        print(f"{PROG}: error: {message}", file=sys.stderr)
    if not args.quiet or results.failed:
        print(f"{PROG}: {results.summary()} (in {args.outdir})", file=sys.stderr)
    return 1 if results.failed else 0


def _client(address: str):
    try:
        from dask.distributed import Client
    except ImportError:
        raise NmfaudioError(
            "--scheduler needs Dask: pip install 'nmfaudio[dask]' (or dask[distributed])"
        ) from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address
        raise NmfaudioError(f"cannot reach the Dask scheduler at {address} ({exc})") from None


def _command_line(args: argparse.Namespace) -> list[str]:
    """What was run, for the manifest."""
    return [PROG, *(sys.argv[1:] if args.argv is None else args.argv)]


def _check_separate_options(args: argparse.Namespace) -> None:
    """Options that contradict each other are usage errors, found before any work."""
    score = args.score is not None or bool(args.active)
    if args.score is not None and args.active:
        args.parser.error(
            "--active is the coarse score, for a recording without one: not with --score"
        )
    if score:
        for option, value in {"--sources": args.sources, "--templates": args.templates,
                              "-k": args.components}.items():  # fmt: skip
            if value is not None:
                args.parser.error(
                    f"{option} cannot be used with"
                    f" {'--score' if args.score is not None else '--active'}"
                    " (the score gives the components; use --extra for free components)"
                )
    if (args.drums or args.no_align) and args.score is None:
        args.parser.error(f"{'--drums' if args.drums else '--no-align'} needs --score")
    if args.templates:
        taken = {"--sources": args.sources, "-k": args.components, "--n-fft": args.n_fft,
                 "--hop": args.hop}  # fmt: skip
        for option, value in taken.items():
            if value is not None:
                args.parser.error(
                    f"{option} cannot be used with --templates (the templates"
                    " fix the components and STFT settings; use --extra for free components)"
                )  # fmt: skip
    elif args.templates_as:
        args.parser.error("--templates-as needs --templates")
    elif args.extra is not None and not score:
        args.parser.error("--extra needs --templates or --score")
    elif args.keep_components and not (args.sources or score):
        args.parser.error("--keep-components needs --sources, --templates or --score")
    for option, value in {"--restarts": args.restarts, "--windows": args.windows}.items():
        if value and not args.sources:
            args.parser.error(f"{option} needs --sources")
    if args.windows and (args.n_fft is not None or args.hop is not None):
        args.parser.error(
            f"--windows cannot be used with {'--n-fft' if args.n_fft is not None else '--hop'}"
            " (the windows give the STFT frames)"
        )
    if args.reference is not None and not args.report:
        args.parser.error("--reference needs --report")


def _run_learn(args: argparse.Namespace) -> None:
    from .audio_io import load
    from .templates import check_name, learn

    if args.output.suffix.lower() != ".npz":
        raise NmfaudioError(f"{args.output}: templates are written as NPZ; give it a .npz name")
    name = args.name if args.name is not None else args.output.stem
    check_name(name)
    y, sr = load(args.files[0], sr=args.sr)
    signals = [y] + [load(path, sr=sr)[0] for path in args.files[1:]]
    templates = learn(
        signals, sr, args.components, name=name, **_given(context=args.context),
        settings=_settings(args),
        progress=not args.quiet,
    )  # fmt: skip
    templates.save(args.output)
    if not args.quiet:
        print(f"wrote {templates.n_components} templates {name!r} ({sr} Hz) to {args.output}")


def _run_plot(args: argparse.Namespace) -> None:
    from . import plot
    from .audio_io import load
    from .outputs import write_file

    output = args.output or args.input.with_name(f"{args.input.stem}_spectrogram.png")
    if output.suffix.lower() != ".png":
        raise NmfaudioError(f"{output}: the picture is written as PNG; give it a .png name")
    y, sr = load(args.input)
    figure = plot.spectrogram(
        y, sr, config=STFTConfig(**_given(n_fft=args.n_fft, hop_length=args.hop)),
        max_freq=args.max_freq, title=args.input.name,
    )  # fmt: skip
    write_file(output, lambda path: figure.savefig(path, dpi=100, format="png"))
    if not args.quiet:
        print(f"wrote {output}")


def _run_report(args: argparse.Namespace) -> None:
    from . import report

    path = report.write(args.outdir, reference=args.reference)
    if not args.quiet:
        print(f"wrote {path}")


def _run_evaluate(args: argparse.Namespace) -> None:
    from .evaluation import evaluate_dirs

    scores = evaluate_dirs(args.reference_dir, args.estimate_dir)
    print(json.dumps(scores.to_dict(), indent=2) if args.json else scores.table())


class _Terminated(BaseException):  # not caught by handlers of ordinary errors
    """SIGTERM arrived: unwind (staging folders are removed on the way) and exit."""


def _terminate(signum, frame) -> None:
    raise _Terminated


def _unknown(unknown: list[str], parser: argparse.ArgumentParser) -> str:
    """What is wrong with arguments no option takes, with the nearest option to a typo."""
    options = [name for action in parser._actions for name in action.option_strings]
    for argument in unknown:
        if argument.startswith("-"):
            given = argument.split("=", 1)[0]
            near = difflib.get_close_matches(given, options, n=1, cutoff=0.6)
            if near:
                return f"no option {given}: did you mean {near[0]}?"
            return f"no option {given}"
    return f"unrecognized arguments: {' '.join(unknown)}"


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not UTF-8 (its bytes kept as surrogates) is shown escaped.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = getattr(args, "parser", parser)
        command.error(_unknown(unknown, command))
    args.argv = None if argv is None else [str(a) for a in argv]
    if args.command is None:  # plain `nmfaudio`: show what there is to do
        parser.print_help(sys.stderr)
        return 2
    warnings.showwarning = _one_line_warning
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # clean up as for Ctrl-C, then exit 143
        # Ctrl-C (SIGINT) stops a run and cleans up, whatever the disposition inherited:
        # nohup or a shell's background job may start us ignoring it, and Python then
        # installs no handler, so a batch would run on (its workers install their own).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = args.run(args) or 0
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except NmfaudioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"{PROG}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
    except MemoryError:
        print(
            f"{PROG}: error: out of memory; try fewer components or a shorter input",
            file=sys.stderr,
        )
        return 1
    except _Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return status
