"""The inline style sheet and script of the HTML report, and the Content-Security-Policy allowing them.

The page loads nothing: its styles are :data:`CSS`, its one script :data:`SCRIPT` (stepping through
the planes of a stack, click to enlarge), and :data:`CSP` lets the browser fetch nothing else and
run no other script (the script is allowed by its hash, :data:`SCRIPT_HASH`).
"""

from __future__ import annotations

import base64
import hashlib

#: The report's style sheet, inlined in its ``<style>`` element.
CSS = """
:root { color-scheme: light; --fg:#1f2328; --dim:#57606a; --line:#d0d7de; --bg:#f6f8fa;
        --ok:#1a7f37; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: var(--fg); background: #fff;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 4px; word-break: break-all; }
h3 { font-size: 14px; margin: 8px 0 4px; }
.sub, .meta, .note, .dim { color: var(--dim); }
.note { font-size: 12px; margin: 4px 0 8px; }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 120px;
        background: var(--bg); }
.card b { display: block; font-size: 22px; }
.card.bad b { color: var(--bad); } .card.good b { color: var(--ok); }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
table.summary td.num, table.summary th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary tr.failed td { background: #fff5f5; }
table.metrics th { font-weight: 500; color: var(--dim); white-space: nowrap; }
table.metrics td { font-variant-numeric: tabular-nums; }
.item { border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; margin: 20px 0; }
.item.failed { border-color: var(--bad); }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px;
         color: #fff; vertical-align: 2px; }
.badge.ok { background: var(--ok); } .badge.failed { background: var(--bad); }
.error { border-left: 4px solid var(--bad); background: #fff5f5; color: var(--bad);
         padding: 10px 14px; margin: 10px 0; font-size: 15px; word-break: break-word; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; margin: 10px 0 0; }
figure { margin: 0; }
/* content-box: with border-box the 1 px border would shrink the picture by 2 px and the browser
   would resample it, blurring exactly the noise the report is about. */
figure img { display: block; box-sizing: content-box; max-width: 100%; height: auto;
             border: 1px solid var(--line); background: #000; }
img.pixelated { image-rendering: pixelated; }
figcaption { font-size: 12px; color: var(--dim); margin-top: 3px; }
svg text { fill: var(--fg); font-family: inherit; }
.row { display: flex; flex-wrap: wrap; gap: 12px 32px; align-items: flex-start; }
.histwrap { max-width: 460px; }
.row table.metrics { margin-top: 30px; }
details { margin: 10px 0 0; } summary { cursor: pointer; color: var(--dim); }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px;
      overflow: auto; max-height: 420px; font-size: 12px; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
[hidden] { display: none !important; }
h4.channel { font-size: 13px; margin: 12px 0 2px; color: var(--dim); font-weight: 600; }
.pic { position: relative; display: inline-block; line-height: 0; }
img.zoom { cursor: zoom-in; }
.scalebar { position: absolute; right: 4%; bottom: 5%; height: 4px; background: #fff;
            box-shadow: 0 0 0 1px #000; pointer-events: none; }
.scalebar span { position: absolute; bottom: 7px; left: 50%; transform: translateX(-50%); color: #fff;
                 font-size: 11px; line-height: 1; white-space: nowrap;
                 text-shadow: 0 0 2px #000, 0 0 2px #000, 0 0 1px #000; }
.stacknav { display: flex; gap: 10px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
.stacknav button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 6px;
                   background: var(--bg); cursor: pointer; }
.stacknav button:disabled { opacity: .45; cursor: default; }
.stacknav input[type=range] { width: 220px; }
.plane-label { font-weight: 600; font-variant-numeric: tabular-nums; }
.lightbox { position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, .85); display: flex;
            flex-direction: column; align-items: center; justify-content: center; cursor: zoom-out; }
.lightbox img { border-color: #555; max-width: none; }
.lightbox p { color: #eee; font-size: 13px; margin: 8px 0 0; }
.glossary dt { font-weight: 600; margin-top: 8px; }
.glossary dd { margin: 2px 0 0 16px; max-width: 900px; }
abbr { text-decoration: underline dotted; cursor: help; }
"""

#: Stepping through the planes of a stack, and click to enlarge. Inline (the page loads nothing) and
#: allowed by its hash in the Content-Security-Policy, so no other script could run.
SCRIPT = """
(function () {
  "use strict";
  function show(stack, i) {
    var n = parseInt(stack.getAttribute("data-planes"), 10);
    i = Math.max(0, Math.min(n - 1, i));
    stack.setAttribute("data-current", String(i));
    stack.querySelectorAll("[data-plane]").forEach(function (el) {
      el.hidden = parseInt(el.getAttribute("data-plane"), 10) !== i;
    });
    var plane = stack.querySelector('.plane[data-plane="' + i + '"]');
    var label = stack.querySelector(".plane-label");
    if (plane && label) { label.textContent = plane.getAttribute("data-label"); }
    var pos = stack.querySelector(".plane-pos");
    if (pos) { pos.textContent = pos.textContent.replace(/^\\d+ \\/ \\d+/, (i + 1) + " / " + n); }
    stack.querySelector("input.plane-slider").value = String(i);
    stack.querySelector("button.prev").disabled = i === 0;
    stack.querySelector("button.next").disabled = i === n - 1;
  }
  document.querySelectorAll("div.stack").forEach(function (stack) {
    var current = function () { return parseInt(stack.getAttribute("data-current"), 10); };
    stack.querySelector(".stacknav").hidden = false;
    stack.querySelector("button.prev").addEventListener("click", function () { show(stack, current() - 1); });
    stack.querySelector("button.next").addEventListener("click", function () { show(stack, current() + 1); });
    stack.querySelector("input.plane-slider").addEventListener("input", function (e) {
      show(stack, parseInt(e.target.value, 10));
    });
    show(stack, current());
  });
  var box = document.createElement("div");
  box.className = "lightbox";
  box.hidden = true;
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-label", "enlarged image");
  document.body.appendChild(box);
  function close() { box.hidden = true; box.textContent = ""; }
  box.addEventListener("click", close);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { close(); } });
  document.querySelectorAll("img.zoom").forEach(function (img) {
    img.addEventListener("click", function () {
      var pic = img.closest(".pic").cloneNode(true);
      var big = pic.querySelector("img");
      var w = img.naturalWidth, h = img.naturalHeight;
      var k = Math.min((window.innerWidth - 48) / w, (window.innerHeight - 96) / h);
      if (k > 1) { k = Math.floor(k); big.classList.add("pixelated"); }
      big.width = Math.max(1, Math.round(w * k));
      big.height = Math.max(1, Math.round(h * k));
      big.classList.remove("zoom");
      var caption = document.createElement("p");
      var fig = img.closest("figure");
      var text = fig ? fig.querySelector("figcaption").textContent : img.alt;
      caption.textContent = text + (k > 1 ? " (shown " + k + "x, pixels enlarged)" : "") + " · click or Esc to close";
      box.textContent = "";
      box.appendChild(pic);
      box.appendChild(caption);
      box.hidden = false;
    });
  });
})();
"""

#: :data:`SCRIPT`'s hash, by which the Content-Security-Policy allows it.
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
#: The browser may load nothing but what is inline: images from data: URIs, inline styles, and the one
#: script above (by its hash).
CSP = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'"
