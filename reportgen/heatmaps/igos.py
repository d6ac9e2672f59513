"""I-GOS and iGOS++: a low-resolution mask optimised along integrated-gradient directions.

I-GOS (Qi, Khorram, Li, "Visualizing Deep Networks by Optimizing with Integrated Gradients",
AAAI 2020) minimises, per image, the *deletion* objective

    J(M) = mean_k p_c(phi(x, b, (k/K) up(M)) + n_k) + l1 mean|1 - M| + tv TV(M)

over a mask M in [0, 1]^(s x s) (1 = keep the pixel, 0 = replace it by the blurred baseline b;
``phi(a, b, m) = a m + b (1 - m)``; p_c the softmax probability of the explained class; n_k
Gaussian noise). The gradient of the path mean is the integrated gradient of the mask;
each step is a batched Armijo line search along it (``step``, then x0.2 down to 1e-5).
iGOS++ (Khorram et al., "iGOS++: Integrated Gradient Optimized Saliency by Bilateral
Perturbations", CHIL 2021) optimises a deletion mask D and an insertion mask I together:

    J = 1/2 [del(D I) - ins(D I) + del(D) - ins(I)] + l1 mean|1 - D I| + tv BTV(x, D I)

with ``del(M)`` the path mean above, ``ins(M)`` the same from the baseline towards the image
(``phi(b, x, tM)``) and BTV the bilateral total variation (half the mask's TV plus half the
image-edge-weighted TV of the upsampled mask). ``mean|1 - M|`` is computed as ``mean(1 - M)``
(equal on [0, 1]) so that its gradient at M = 1 is the L1 pull, not the 0 of |.| at its kink:
the descent direction then knows that deleting costs L1. The heatmap is ``1 - M`` (``1 - D I``),
upsampled bilinearly to the input and divided by its peak: in [0, 1], 0 where the mask never
moved (no evidence found: such a map is degenerate and excluded by the scorer).

Defaults are the reference implementation's (github.com/saeed-khorram/IGOS, ``args.py`` and
``methods_helper.py``): 28 x 28 mask, 15 iterations, 20 integration steps, l1 1, tv 20,
initial step 1000, noise std 0.2 (normalised input units), baseline = Gaussian blur with a
51-pixel kernel and sigma 50, BTV sigma 0.01. Everything runs batched on the model's device;
an image's noise and line search do not depend on the other images of its batch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from reportgen.heatmaps.base import HeatmapMethod, register_method
from reportgen.heatmaps.capture import frozen_parameters
from reportgen.heatmaps.targets import choose_classes
from reportgen.models.loading import LoadedModel

LINE_SEARCH_DECAY = 0.2  # the reference's backtracking factor
LINE_SEARCH_MIN_STEP = 1e-5  # ... and its smallest step
ARMIJO_BETA = 1e-4  # sufficient-decrease constant


def gaussian_blur(images: torch.Tensor, kernel: int, sigma: float) -> torch.Tensor:
    """(N, C, H, W) blurred per channel by a separable ``kernel``-tap Gaussian, reflected
    borders (OpenCV's default). The kernel is shrunk (kept odd) to fit images smaller than it."""
    h, w = images.shape[-2:]
    kernel = min(kernel, 2 * min(h, w) - 1)
    kernel -= 1 - kernel % 2
    if kernel < 3 or sigma <= 0:
        return images
    x = torch.arange(kernel, device=images.device, dtype=images.dtype) - kernel // 2
    taps = torch.exp(-x * x / (2 * sigma * sigma))
    taps = taps / taps.sum()
    c, pad = images.shape[1], kernel // 2
    out = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, taps.view(1, 1, 1, -1).expand(c, 1, 1, kernel), groups=c)
    return F.conv2d(out, taps.view(1, 1, -1, 1).expand(c, 1, kernel, 1), groups=c)


def tv_norm(masks: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """(N, 1, h, w) -> (N,) mean |vertical difference|^beta + mean |horizontal one|^beta."""
    m = masks[:, 0]
    return ((m[:, 1:] - m[:, :-1]).abs().pow(beta).flatten(1).mean(1)
            + (m[:, :, 1:] - m[:, :, :-1]).abs().pow(beta).flatten(1).mean(1))


def bilateral_tv(images: torch.Tensor, masks: torch.Tensor, up: torch.Tensor,
                 beta: float = 2.0, sigma: float = 0.01) -> torch.Tensor:
    """(N,) iGOS++'s bilateral TV: half the mask's TV plus half the TV of ``up`` (the mask at
    input resolution, (N, 1, H, W)) weighted by ``exp(-mean_c(image difference^2) / sigma)``,
    so the mask may change where the image has an edge. (The reference averages the colour
    difference before squaring in one direction and after in the other; here: after, both.)"""
    dv = (images[:, :, 1:] - images[:, :, :-1]).pow(2).mean(1)
    dh = (images[..., 1:] - images[..., :-1]).pow(2).mean(1)
    u = up[:, 0]
    bil = ((torch.exp(-dv / sigma) * (u[:, 1:] - u[:, :-1]).abs().pow(beta)).flatten(1).mean(1)
           + (torch.exp(-dh / sigma) * (u[:, :, 1:] - u[:, :, :-1]).abs().pow(beta)
              ).flatten(1).mean(1))
    return 0.5 * (tv_norm(masks, beta) + bil)


class _Problem:
    """One batch's optimisation problem: images, baselines, classes and the path sampling.

    ``objective(masks, rows, noise, backward)`` -> (n,) J of images ``rows`` (masks (n, C,
    s, s)); with ``backward`` the gradient is accumulated into ``masks.grad`` chunk by chunk
    (at most ``batch_size`` perturbed images per forward pass).
    """

    def __init__(self, method: OptimisedMask, model: LoadedModel, inputs: torch.Tensor,
                 classes: torch.Tensor):
        p = method.params
        self.method, self.model, self.inputs, self.classes = method, model, inputs, classes
        self.baseline = gaussian_blur(inputs, p["blur_kernel"], p["blur_sigma"])
        self.steps = p["ig_steps"]
        self.t = torch.arange(1, self.steps + 1, device=inputs.device,
                              dtype=inputs.dtype).view(1, -1, 1, 1, 1) / self.steps
        self.per_chunk = max(1, p["batch_size"] // self.steps)

    def up(self, masks: torch.Tensor) -> torch.Tensor:
        return F.interpolate(masks, size=self.inputs.shape[-2:], mode="bilinear",
                             align_corners=True)

    def path_mean(self, source: torch.Tensor, other: torch.Tensor, up: torch.Tensor,
                  classes: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(n,) mean over k of p_c(phi(source, other, (k/K) up) + noise_k)."""
        m = up[:, None] * self.t  # (n, K, 1, H, W)
        path = source[:, None] * m + other[:, None] * (1 - m) + noise
        probs = torch.softmax(self.model.module(path.flatten(0, 1)).float(), dim=1)
        scores = probs.gather(1, classes.repeat_interleave(self.steps)[:, None])
        return scores.view(-1, self.steps).mean(1)

    def objective(self, masks: torch.Tensor, rows: torch.Tensor, noise: torch.Tensor,
                  backward: bool) -> torch.Tensor:
        x, b, c = self.inputs[rows], self.baseline[rows], self.classes[rows]
        reg = self.method.regularisation(self, x, masks)
        if backward:
            reg.sum().backward()
        total = reg.detach().clone()
        for lo in range(0, len(rows), self.per_chunk):
            hi = min(lo + self.per_chunk, len(rows))
            value = torch.zeros(hi - lo, device=x.device)
            for weight, deletion, select in self.method.terms():
                up = self.up(select(masks[lo:hi]))
                src, dst = (x[lo:hi], b[lo:hi]) if deletion else (b[lo:hi], x[lo:hi])
                value = value + weight * self.path_mean(src, dst, up, c[lo:hi], noise)
            if backward:
                value.sum().backward()
            total[lo:hi] += value.detach()
        return total


class OptimisedMask(HeatmapMethod):
    """Base of I-GOS and iGOS++: ``channels`` masks, ``terms`` and ``regularisation`` hooks."""

    channels: ClassVar[int] = 1
    defaults: ClassVar[dict[str, Any]] = {
        "mask_size": 28, "iterations": 15, "ig_steps": 20, "l1": 1.0, "tv": 20.0,
        "step": 1000.0, "noise_std": 0.2, "blur_kernel": 51, "blur_sigma": 50.0,
        "batch_size": 64, "seed": 0}

    def terms(self) -> list[tuple[float, bool, Any]]:
        """Hook: (weight, deletion?, masks (n, C, s, s) -> (n, 1, s, s)) path terms of J."""
        raise NotImplementedError

    def regularisation(self, problem: _Problem, images: torch.Tensor, masks: torch.Tensor
                       ) -> torch.Tensor:
        """Hook: (n,) the regularisation of J."""
        raise NotImplementedError

    def combined(self, masks: torch.Tensor) -> torch.Tensor:
        """(n, C, s, s) -> (n, 1, s, s) the mask whose complement is the heatmap."""
        return masks.prod(dim=1, keepdim=True)

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            logits = model.module(inputs)
        chosen = choose_classes(logits, classes)
        with frozen_parameters(model.module), torch.enable_grad():
            masks = self.optimise(_Problem(self, model, inputs.detach(), chosen))
        return 1 - self.combined(masks)[:, 0], logits, chosen

    def optimise(self, problem: _Problem) -> torch.Tensor:
        """(N, C, s, s) masks after ``iterations`` line-search steps along -dJ/dM."""
        p, x = self.params, problem.inputs
        n, size = len(x), min(p["mask_size"], *x.shape[-2:])
        masks = torch.ones(n, self.channels, size, size, device=x.device)
        rows = torch.arange(n, device=x.device)
        generator = torch.Generator(device=x.device).manual_seed(p["seed"])
        for _ in range(p["iterations"]):
            noise = p["noise_std"] * torch.randn((p["ig_steps"], *x.shape[1:]),
                                                 generator=generator, device=x.device)
            leaf = masks.clone().requires_grad_(True)
            loss = problem.objective(leaf, rows, noise, backward=True)
            grad = leaf.grad
            steps = self.line_search(problem, masks, grad, loss, noise)
            masks = (masks - steps.view(-1, 1, 1, 1) * grad).clamp(0, 1)
        return masks

    @torch.no_grad()
    def line_search(self, problem: _Problem, masks: torch.Tensor, grad: torch.Tensor,
                    loss: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(N,) per-image Armijo steps: from ``step`` down by x0.2 until J decreases enough
        (or the step is below 1e-5); only images still searching are evaluated.

        Sufficient decrease is measured along the projected step (``J(T) <= J(M) - 1e-4
        <dJ/dM, M - T>`` with T the trial mask clipped to [0, 1]), so a step the box blocks
        entirely is accepted at once; the reference uses ``step |dJ/dM|^2``, which equals it
        where nothing is clipped but sends blocked images down to the smallest step."""
        steps = torch.full_like(loss, float(self.params["step"]))
        active = torch.ones_like(loss, dtype=torch.bool)
        while bool(active.any()):
            rows = active.nonzero()[:, 0]
            trial = (masks[rows] - steps[rows].view(-1, 1, 1, 1) * grad[rows]).clamp(0, 1)
            moved = masks[rows] - trial
            decrease = ARMIJO_BETA * (grad[rows] * moved).flatten(1).sum(1)
            value = problem.objective(trial, rows, noise, backward=False)
            failed = value > loss[rows] - decrease
            failed &= moved.flatten(1).abs().amax(1) > 0
            failed &= steps[rows] >= LINE_SEARCH_MIN_STEP
            active[rows] = failed
            steps[rows[failed]] *= LINE_SEARCH_DECAY
        return steps

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        maps = F.interpolate(raw[:, None].float(), size=size, mode="bilinear",
                             align_corners=True)[:, 0].clamp(0, 1)
        peak = maps.flatten(1).max(dim=1).values
        return maps / torch.where(peak > 0, peak, 1.0)[:, None, None]


@register_method
class IGOS(OptimisedMask):
    """I-GOS (Qi et al. 2020): one deletion mask; L1 + TV regularisation."""

    name = "igos"

    def terms(self):
        return [(1.0, True, lambda m: m)]

    def regularisation(self, problem, images, masks):
        return (self.params["l1"] * (1 - masks).flatten(1).mean(1)  # = mean|1 - M| on [0, 1]
                + self.params["tv"] * tv_norm(masks))


@register_method
class IGOSPlusPlus(OptimisedMask):
    """iGOS++ (Khorram et al. 2021): deletion and insertion masks; L1 + bilateral TV."""

    name = "igos++"
    channels = 2

    def terms(self):
        both = self.combined
        return [(0.5, True, both), (-0.5, False, both),
                (0.5, True, lambda m: m[:, :1]), (-0.5, False, lambda m: m[:, 1:])]

    def regularisation(self, problem, images, masks):
        both = self.combined(masks)
        return (self.params["l1"] * (1 - both).flatten(1).mean(1)
                + self.params["tv"] * bilateral_tv(images, both, problem.up(both)))
