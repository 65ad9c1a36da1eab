"""What the camera gain estimate would give if it could see which pixels carry no texture.

For ten validation camera cases (``benchmarks/noise_validation.py validation``'s images, seven of
its settings and three more; never test images), the gain the noise-level function gives from the estimate's own
pixels against the gain from the same estimate restricted to the pixels whose clean image adds at
most ``noise_validation.TEXTURE_FREE`` of the noise variance to the measured residual (an oracle:
it needs the clean image). Where the oracle's gain is right and the estimate's is not, the
estimate is limited by telling texture from noise in noisy pixels, not by its fit.

Usage::

    python benchmarks/camera_texture_oracle.py
"""

from __future__ import annotations

import numpy as np

from noise_validation import TEXTURE_FREE, images_for, photon_rate
from restoration.noise import camera
from restoration.noise.estimate import fit_variance_robust

#: (image, gain, read noise, offset, peak photons, darkest 5 % photon-free).
CASES = (("rocket", 7.60, 5.02, 512.3, 150.7, False), ("rocket", 6.82, 1.99, 360.8, 85.0, False),
         ("rocket", 3.24, 2.29, 0.0, 468.0, False), ("chelsea", 2.65, 1.92, 641.1, 403.6, True),
         ("chelsea", 3.59, 1.04, 199.9, 23.9, True), ("brick", 2.83, 1.84, 859.9, 391.5, True),
         ("text", 6.02, 6.65, 466.5, 301.2, True), ("page", 1.33, 1.0, 100.0, 200.0, False),
         ("immunohistochemistry", 1.25, 2.0, 300.0, 300.0, False), ("clock", 4.52, 2.0, 300.0, 300.0, False))


def main() -> None:
    rng = np.random.default_rng(0)
    images = images_for("validation", 384, np.random.default_rng(1))
    print("| image | gain | texture-free pixels | estimate's gain / true | its pixels' line | texture-free pixels' line |")
    print("|---|---|---|---|---|---|")
    for name, gain, read, offset, peak, dark in CASES:
        rate = peak * photon_rate(images[name], dark)
        expected = gain * rate + offset
        y = camera.camera_counts(rng, rate, gain=gain, sigma=read, offset=offset)
        # The clean image's statistics at the very pixels the estimate measures (same order).
        noisy, clean = camera.parity_stats(y), camera.parity_stats(expected)
        free = clean.resid ** 2 <= TEXTURE_FREE * camera._W2 * (gain * (clean.value - offset) + read ** 2)
        only = camera.ParityStats(*(getattr(noisy, f)[free] for f in ("score", "rough", "value", "resid", "flat")))
        slopes = [fit_variance_robust(*camera.parity_variance_stats(s))[0] / gain for s in (noisy, only)]
        print(f"| {name} | {gain} | {free.mean():.2f} | {camera.estimate_camera(y)['gain'] / gain:.3f} "
              f"| {slopes[0]:.3f} | {slopes[1]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
