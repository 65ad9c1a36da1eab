"""The dock widget: characterize, preview and restore the selected image layer, and send its
dataset to the pipeline.

Every computation runs in a napari thread worker through the public API
(:func:`restoration.characterize`, :func:`restoration.denoise`, :func:`restoration.denoise_plane`),
so the layers it adds equal what the API returns, and the GUI never waits. The progress bar
follows the denoiser's progress within a plane; Cancel makes the next progress report raise, which
stops the restoration within one tile of network work. A mistake (a bad number, a missing model
file) is one line in a napari notification, never a traceback.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QObject, Qt, Signal
from qtpy.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                            QLineEdit, QProgressBar, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                            QVBoxLayout, QWidget)

from ..api import NOISE_COLUMNS
from ..errors import InputError
from ..options import RunOptions
from .layers import layer_axes, like_layer, number, plane_layer, plane_number, visible_region
from .submit import PipelineRun

#: Denoiser options the form offers (when the chosen denoiser declares them).
FORM_OPTIONS = ("method", "samples", "ensemble", "model")


class Cancelled(Exception):
    """Raised in the worker at the first progress report after Cancel was pressed."""


class _Relay(QObject):
    """Progress from the worker thread to the GUI thread (a queued Qt signal)."""

    moved = Signal(float)


@dataclass
class Job:
    """What a finished background job returns to the GUI thread."""

    kind: str                       # "characterize", "restore" or "preview"
    value: Any = None               # its result, None when cancelled or refused
    error: str = ""                 # a user mistake, one line
    cancelled: bool = False
    seconds: float = 0.0
    context: dict = field(default_factory=dict)


def run_job(kind: str, call: Callable, cancel: threading.Event, relay: _Relay, context: dict) -> Job:
    """Run ``call(progress)`` (in a worker thread): ``progress(done, total=1)`` moves the bar and
    raises :class:`Cancelled` once ``cancel`` is set; a user mistake is returned, not raised."""

    def progress(done: float, total: float = 1.0) -> None:
        if cancel.is_set():
            raise Cancelled
        relay.moved.emit(float(done) / float(total or 1))

    started = time.perf_counter()
    try:
        value = call(progress)
    except Cancelled:
        return Job(kind, cancelled=True, seconds=time.perf_counter() - started, context=context)
    except InputError as exc:
        return Job(kind, error=str(exc), seconds=time.perf_counter() - started, context=context)
    return Job(kind, value, seconds=time.perf_counter() - started, context=context)


def _line(placeholder: str = "", text: str = "") -> QLineEdit:
    edit = QLineEdit(text)
    edit.setPlaceholderText(placeholder)
    return edit


class RestorationWidget(QWidget):
    """The Restoration dock widget of a napari viewer (see the module docstring)."""

    def __init__(self, napari_viewer):
        super().__init__()
        from ..plugins import registry

        self.viewer = napari_viewer
        self.registry = registry()
        self.worker = None
        self.pipeline: PipelineRun | None = None
        self.cancel_event = threading.Event()
        self.relay = _Relay(self)
        self.relay.moved.connect(self._moved)
        self.last_job: Job | None = None
        self.noise_frame = None
        self._filled = ("", "")  # the inputs and output last filled in from a layer's file

        self.layer_box = QComboBox()
        self.noise = QComboBox()
        self.noise.addItems(["auto", *sorted(self.registry.table("noise"))])
        self.sigma, self.gain = _line("estimated"), _line("ADU per photon")
        self.read_noise, self.offset = _line("ADU"), _line("ADU")
        self.dark = _line("file: offset = mean, read noise = std")
        self.denoiser = QComboBox()
        self.denoiser.addItems(sorted(self.registry.table("denoiser")))
        self.denoiser.setCurrentText("diffusion")
        self.method = QComboBox()
        self.method.addItems(["mmse", "ddim", "posterior"])
        self.samples = QSpinBox()
        self.samples.setRange(1, 64)
        self.ensemble = QCheckBox("8 flips and rotations")
        self.planes = QComboBox()
        self.planes.addItems(["yx", "yx,zx,zy"])
        self.model = _line("shipped model")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)

        noise_form = QFormLayout()
        for label, w in (("noise", self.noise), ("sigma", self.sigma), ("gain", self.gain),
                         ("read noise", self.read_noise), ("offset", self.offset),
                         ("dark frame", self._with_browse(self.dark, folder=False))):
            noise_form.addRow(label, w)
        noise_group = QGroupBox("Noise")
        noise_group.setLayout(noise_form)
        run_form = QFormLayout()
        for label, w in (("denoiser", self.denoiser), ("method", self.method), ("samples", self.samples),
                         ("ensemble", self.ensemble), ("planes", self.planes),
                         ("model file", self._with_browse(self.model, folder=False)), ("seed", self.seed)):
            run_form.addRow(label, w)
        run_group = QGroupBox("Restore")
        run_group.setLayout(run_form)

        self.characterize_button = QPushButton("Characterize")
        self.preview_button = QPushButton("Preview visible")
        self.preview_button.setToolTip("restore only the region of the current plane the canvas shows")
        self.restore_button = QPushButton("Restore")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.characterize_button.clicked.connect(self.characterize)
        self.preview_button.clicked.connect(self.preview)
        self.restore_button.clicked.connect(self.restore)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.characterize_button, self.preview_button, self.restore_button, self.cancel_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setMaximumHeight(90)

        self.source = _line("the layer's file, or a folder")
        self.outdir = _line("output folder")
        self.send_button = QPushButton("Send to pipeline")
        self.send_button.clicked.connect(self.send)
        self.links = QLabel("")
        self.links.setOpenExternalLinks(True)
        self.links.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        send_form = QFormLayout()
        send_form.addRow("inputs", self._with_browse(self.source, folder=True))
        send_form.addRow("output", self._with_browse(self.outdir, folder=True))
        send_form.addRow(self.send_button)
        send_form.addRow(self.links)
        send_group = QGroupBox("Pipeline (restore-dataset)")
        send_group.setLayout(send_form)

        layout = QVBoxLayout(self)
        layer_row = QHBoxLayout()
        layer_row.addWidget(QLabel("layer"))
        layer_row.addWidget(self.layer_box, 1)
        layout.addLayout(layer_row)
        for w in (noise_group, run_group):
            layout.addWidget(w)
        layout.addLayout(buttons)
        for w in (self.progress, self.status, self.table, send_group):
            layout.addWidget(w)
        layout.addStretch(1)

        self.denoiser.currentTextChanged.connect(self._denoiser_changed)
        self._denoiser_changed(self.denoiser.currentText())
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered):
            event.connect(self._refresh_layers)
        self.viewer.layers.selection.events.active.connect(self._refresh_layers)
        self.layer_box.currentTextChanged.connect(self._layer_changed)
        self._refresh_layers()

    # ------------------------------------------------------------------ form

    def _with_browse(self, edit: QLineEdit, folder: bool) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit, 1)
        button = QPushButton("…")
        button.setMaximumWidth(28)

        def browse() -> None:
            path = (QFileDialog.getExistingDirectory(self, "Choose a folder") if folder
                    else QFileDialog.getOpenFileName(self, "Choose a file")[0])
            if path:
                edit.setText(path)

        button.clicked.connect(browse)
        box.addWidget(button)
        return row

    def _denoiser_changed(self, name: str) -> None:
        declared = {o.name for o in self.registry.get("denoiser", name).options} if name else set()
        for opt, w in (("method", self.method), ("samples", self.samples), ("ensemble", self.ensemble),
                       ("model", self.model)):
            w.setEnabled(opt in declared)

    def _refresh_layers(self, *_) -> None:
        names = [layer.name for layer in self.viewer.layers if isinstance(layer, Image)]
        current = self.layer_box.currentText()
        active = self.viewer.layers.selection.active
        want = active.name if isinstance(active, Image) else current
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(names)
        self.layer_box.blockSignals(False)
        if want in names:
            self.layer_box.setCurrentText(want)
        self._layer_changed(self.layer_box.currentText())

    def _layer_changed(self, name: str) -> None:
        layer = self.viewer.layers[name] if name in self.viewer.layers else None
        path = getattr(getattr(layer, "source", None), "path", None) or \
            (layer.metadata.get("restoration_sample") if layer is not None else None)
        # Follow the selected layer's file unless the user typed other inputs or output.
        if path and self.source.text() in ("", self._filled[0]):
            outdir = str(Path(path).with_name(Path(path).name.split(".")[0] + "-restored"))
            if self.outdir.text() in ("", self._filled[1]):
                self.outdir.setText(outdir)
            self.source.setText(str(path))
            self._filled = (str(path), outdir)

    def layer(self) -> Image:
        """The image layer the widget works on.

        Raises
        ------
        InputError
            When the viewer holds no image layer.
        """
        name = self.layer_box.currentText()
        if not name or name not in self.viewer.layers:
            raise InputError("select an image layer first")
        return self.viewer.layers[name]

    def layer_axes(self) -> tuple[Image, str]:
        """The layer (:meth:`layer`) and its data's axis letters."""
        layer = self.layer()
        return layer, layer_axes(layer.data.shape, layer.axis_labels, layer.rgb)

    def noise_options(self) -> dict[str, Any]:
        """The noise fields as API keywords (blank numbers: estimated)."""
        dark = self.dark.text().strip()
        if dark and not Path(dark).exists():
            raise InputError(f"dark frame: {dark} does not exist")
        return {"noise": self.noise.currentText(), "sigma": number(self.sigma.text(), "sigma"),
                "gain": number(self.gain.text(), "gain"), "read_noise": number(self.read_noise.text(), "read noise"),
                "offset": number(self.offset.text(), "offset"), "dark": dark or None}

    def denoiser_options(self) -> dict[str, Any]:
        """The chosen denoiser's options the form sets (those it declares)."""
        den = self.registry.get("denoiser", self.denoiser.currentText())
        declared = {o.name for o in den.options}
        model = self.model.text().strip()
        if model and not Path(model).is_file():
            raise InputError(f"model file: {model} does not exist")
        values = {"method": self.method.currentText(), "samples": self.samples.value(),
                  "ensemble": self.ensemble.isChecked(), "model": model or None}
        return {k: v for k, v in values.items() if k in declared and v is not None}

    def api_options(self) -> dict[str, Any]:
        """Keywords for :func:`restoration.denoise` (less the data and axes)."""
        return {**self.noise_options(), "denoiser": self.denoiser.currentText(), "seed": self.seed.value(),
                **self.denoiser_options()}

    def wants_std(self, options: dict[str, Any]) -> bool:
        """Whether the denoiser reports a per-pixel std with these options (samples > 1)."""
        from ..options import denoiser_settings

        api_only = ("noise", "sigma", "gain", "read_noise", "offset", "dark", "denoiser", "seed")
        den, resolved = denoiser_settings(RunOptions(denoiser=options["denoiser"], denoiser_options={
            k: v for k, v in options.items() if k not in api_only}), self.registry)
        return den.returns_std(**resolved)

    def run_options(self) -> RunOptions:
        """The form as :class:`~restoration.options.RunOptions` for ``restore-dataset``."""
        source, outdir = self.source.text().strip(), self.outdir.text().strip()
        if not source:
            raise InputError("pipeline: give the inputs (the layer's file or a folder)")
        if not outdir:
            raise InputError("pipeline: give an output folder")
        noise = self.noise_options()
        return RunOptions(inputs=(source,), outdir=outdir, noise=noise["noise"], sigma=noise["sigma"],
                          gain=noise["gain"], read_noise=noise["read_noise"], offset=noise["offset"],
                          dark=noise["dark"], denoiser=self.denoiser.currentText(), seed=self.seed.value(),
                          planes=self.planes.currentText(), denoiser_options=self.denoiser_options())

    # ------------------------------------------------------------------ jobs

    def _start(self, kind: str, call: Callable, **context) -> None:
        if self.worker is not None:
            raise InputError("a restoration is already running (Cancel it first)")
        self.cancel_event.clear()
        self.progress.setValue(0)
        self.status.setText(f"{kind}…")
        self.worker = create_worker(run_job, kind, call, self.cancel_event, self.relay, context,
                                    _connect={"returned": self._done, "finished": self._finished})
        for b in (self.characterize_button, self.preview_button, self.restore_button):
            b.setEnabled(False)
        self.cancel_button.setEnabled(True)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except InputError as exc:
            show_error(str(exc))
            self.status.setText(f"error: {exc}")

    def characterize(self) -> None:
        """Characterize the layer's noise (in a worker); the table shows one row per channel."""
        self._guarded(self._characterize)

    def _characterize(self) -> None:
        import restoration

        layer, axes = self.layer_axes()
        noise = self.noise_options()
        data = layer.data
        self._start("characterize", lambda progress: restoration.characterize(
            np.asarray(data), axes=axes, name=layer.name, **noise))

    def restore(self) -> None:
        """Restore the whole layer (in a worker) into new layers: restored, and std when samples > 1."""
        self._guarded(self._restore)

    def _restore(self) -> None:
        import restoration

        layer, axes = self.layer_axes()
        options = self.api_options()
        std = self.wants_std(options)
        planes = self.planes.currentText()
        data = layer.data
        self._start("restore", lambda progress: restoration.denoise(
            np.asarray(data), axes=axes, planes=planes, return_std=std, progress=progress, **options),
            layer=layer, std=std)

    def preview(self) -> None:
        """Restore only the region of the current plane that the canvas shows (yx planes)."""
        self._guarded(self._preview)

    def _preview(self) -> None:
        import restoration

        layer, axes = self.layer_axes()
        shape = layer.data.shape
        position = layer.world_to_data(self.viewer.dims.point)
        plane = plane_number(axes, shape, list(position) + [0] * (len(axes) - len(position)))
        rows, cols = visible_region(axes, shape, getattr(layer, "corner_pixels", None))
        options = self.api_options()
        std = self.wants_std(options)
        data = layer.data
        self._start("preview", lambda progress: restoration.denoise_plane(
            np.asarray(data), plane, rows=rows, cols=cols, axes=axes, return_std=std, progress=progress,
            **options), layer=layer, std=std, plane=plane, rows=rows, cols=cols, axes=axes)

    def cancel(self) -> None:
        """Stop the running job at its next progress report (within one tile of work)."""
        self.cancel_event.set()
        self.status.setText("cancelling…")

    def _moved(self, share: float) -> None:
        self.progress.setValue(int(round(1000 * min(1.0, max(0.0, share)))))

    def _finished(self) -> None:
        self.worker = None
        for b in (self.characterize_button, self.preview_button, self.restore_button):
            b.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _done(self, job: Job) -> None:
        self.last_job = job
        if job.cancelled:
            self.status.setText(f"{job.kind} cancelled after {job.seconds:.1f} s")
            self.progress.setValue(0)
            return
        if job.error:
            show_error(job.error)
            self.status.setText(f"error: {job.error}")
            return
        self.progress.setValue(1000)
        getattr(self, f"_show_{job.kind}")(job)

    def _show_characterize(self, job: Job) -> None:
        frame = job.value
        self.noise_frame = frame
        # The model and its parameters first (what a user reads), then the fit's figures.
        columns = ["noise"] + [c for c in frame.columns if c not in NOISE_COLUMNS] + NOISE_COLUMNS[3:]
        columns = (["channel"] if len(frame) > 1 else []) + [c for c in columns if frame[c].notna().any()]
        self.table.setRowCount(len(frame))
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)
        for r, (_, row) in enumerate(frame.iterrows()):
            for c, col in enumerate(columns):
                v = row[col]
                text = f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        first = frame.iloc[0]
        self.status.setText(f"noise: {first['noise']} (parameters in the data's units) in {job.seconds:.1f} s")

    def _show_restore(self, job: Job) -> None:
        layer = job.context["layer"]
        out, std = job.value if job.context["std"] else (job.value, None)
        self.viewer.add_image(out, name=f"{layer.name} restored", **like_layer(layer))
        if std is not None:
            self.viewer.add_image(std.mean(axis=-1) if layer.rgb else std, name=f"{layer.name} std",
                                  colormap="magma", **like_layer(layer, rgb=False))
        self.status.setText(f"restored {layer.name} in {job.seconds:.1f} s")

    def _show_preview(self, job: Job) -> None:
        ctx = job.context
        layer = ctx["layer"]
        out, std = job.value if ctx["std"] else (job.value, None)
        y0, x0 = ctx["rows"][0], ctx["cols"][0]
        data, offset = plane_layer(out, ctx["axes"], layer.data.shape, ctx["plane"], y0, x0, layer.rgb)
        translate = np.asarray(layer.translate) + np.asarray(layer.scale) * np.asarray(offset)
        name = f"{layer.name} preview"
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        self.viewer.add_image(data, name=name, **like_layer(layer, translate=tuple(translate)))
        if std is not None:
            std_data, _ = plane_layer(std.mean(axis=-1) if layer.rgb else std, ctx["axes"], layer.data.shape,
                                      ctx["plane"], y0, x0, False)
            if f"{name} std" in self.viewer.layers:
                self.viewer.layers.remove(f"{name} std")
            self.viewer.add_image(std_data, name=f"{name} std", colormap="magma",
                                  **like_layer(layer, translate=tuple(translate), rgb=False))
        (y0, y1), (x0, x1) = ctx["rows"], ctx["cols"]
        self.status.setText(f"preview of plane {ctx['plane']}, rows {y0}:{y1}, columns {x0}:{x1} "
                            f"in {job.seconds:.1f} s")

    # ------------------------------------------------------------------ pipeline

    def send(self) -> None:
        """Submit the form as a ``restore-dataset`` run of the inputs into the output folder."""
        self._guarded(self._send)

    def _send(self) -> None:
        if self.pipeline is not None and self.pipeline.running():
            raise InputError("a pipeline run is already going")
        self.pipeline = PipelineRun(self.run_options(), self)
        self.pipeline.status.connect(self.status.setText)
        self.pipeline.page.connect(lambda url: self.links.setText(f'<a href="{url}">run in the Prefect UI</a>'))
        self.pipeline.finished.connect(self._pipeline_finished)
        self.links.setText("")
        self.pipeline.start()
        self.status.setText("pipeline run started")

    def _pipeline_finished(self, code: int, report: str, error: str) -> None:
        links = [f'<a href="{self.pipeline.url}">run in the Prefect UI</a>'] if self.pipeline.url else []
        if report:
            links.append(f'<a href="{Path(report).as_uri()}">report</a>')
        self.links.setText(" · ".join(links))
        if error:
            show_error(error.removeprefix("error: "))
        elif code == 0:
            show_info("pipeline run complete")

    def shutdown(self) -> None:
        """Cancel a running job and stop a pipeline run (the viewer is closing)."""
        self.cancel_event.set()
        if self.pipeline is not None:
            self.pipeline.stop()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Stop what runs before the widget goes."""
        self.shutdown()
        super().closeEvent(event)
