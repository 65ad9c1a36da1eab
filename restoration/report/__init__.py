"""The quality figures and the self-contained HTML report (``OUTDIR/report.html``).

Modules:

- :mod:`.quality`: PSNR/SSIM against a reference (streamed), the output's noise estimate;
- :mod:`.html`: the document (:func:`render_report`, :func:`write_report`); :mod:`.sections` an
  item's section; :mod:`.assets` the inline style sheet, script and Content-Security-Policy;
  :mod:`.items` what it is given per item (:class:`ReportItem`, :class:`ReportPlane`);
- :mod:`.views`: the planes of an item read from a run's files (:func:`.views.report_item`);
- :mod:`.figures`: the per-item figures; :mod:`.images`: PNG thumbnails, display ranges, colour
  maps, the detail window; :mod:`.plots`: SVG colour bars and histograms; :mod:`.scalebars`:
  length units and scale bars;
- :mod:`.values`: value formatting.
"""

from .html import ReportItem, ReportPlane, render_report, write_report
from .images import DETAIL_SIDE, MAX_SIDE
from .quality import SSIM_SETTINGS, compare, data_range, residual_sigma

__all__ = ["DETAIL_SIDE", "MAX_SIDE", "ReportItem", "ReportPlane", "SSIM_SETTINGS", "compare", "data_range", "render_report",
           "residual_sigma", "write_report"]
