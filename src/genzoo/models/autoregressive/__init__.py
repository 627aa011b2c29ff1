"""Autoregressive models: the chain rule p(x) = ∏_i p(x_i | x_1 … x_{i−1}) in raster order, with an
exact likelihood and sampling pixel by pixel.

- `fvsbn`, the fully visible sigmoid belief network (Neal 1992; Frey 1998): binary x and
  p(x_i = 1 | x_{<i}) = σ(b_i + Σ_{j<i} W_ij x_j) — a strictly lower-triangular W, the simplest
  instance of the chain rule and the baseline of the family.
- `pixelcnn` (van den Oord, Kalchbrenner & Kavukcuoglu 2016, arXiv:1601.06759): masked
  convolutions — type A in the first layer (the centre pixel excluded), type B after it (the
  centre included: it holds features of the pixels before it) — in residual blocks
  (1×1 → masked 3×3 → 1×1), then 1×1 layers to the output.
- `gated-pixelcnn` (van den Oord et al. 2016, arXiv:1606.05328): a vertical stack (the rows
  above, any column within reach) and a horizontal stack (the current row, to the left), so that
  there is no blind spot; gated units tanh(W_f ∗ x) ⊙ σ(W_g ∗ x), the vertical stack feeding the
  horizontal one shifted down a row, residual connections in the horizontal stack and skip
  connections to the output; optionally class-conditional (a learned bias per class on every gate).
- `pixelrnn`, the Row LSTM of van den Oord et al. (2016a): after a masked 7×7 convolution (type
  A), LSTM layers run down the image a row at a time; the input-to-state convolution is a masked
  1×3 along the row (type B), the state-to-state a 1×3 over the previous row's hidden states, so
  the dependence on previous rows is carried by the recurrence. Its context is a triangle above
  each pixel. Slower than PixelCNN on a CPU: the rows are sequential in training too.

Outputs (`levels`): binary (binarised) data get a Bernoulli per pixel (one logit); grey levels get
an L-way softmax over the values k/(L − 1) of [low, high] (8-bit images: L = 256; values are
rounded to the nearest level). `log_prob` is the exact log-probability of the discrete image in
nats (`likelihood = "exact"`, `discrete`); bits/dim = −log_prob / (D ln 2).

Sampling draws the pixels one at a time in raster order, all examples of a batch together. Rather
than the whole network on the whole image for every pixel (`window=False`, the reference), each
model caches what the rows above give once they are complete and recomputes only the current row
per pixel: PixelCNN each residual block's input at the previous row (a masked 3×3 reaches one row
up), the gated PixelCNN the vertical stack's features of the previous row (the horizontal stack
alone runs per pixel), the Row LSTM its states. The samples are the same (tested). Completion
(`inpaint`, `genzoo condition --mask`) keeps the given pixels and samples the others in raster
order: an exact draw from p(x_missing | x_given) when every given pixel comes before every missing
one (the top half given), otherwise the fills see only the given pixels above and to the left of
them.

Images with one channel (grey or binary) only: colour would need masks across the channels.
"""

from genzoo.models.autoregressive.fvsbn import FVSBN
from genzoo.models.autoregressive.gated import GatedPixelCNN
from genzoo.models.autoregressive.pixelcnn import PixelCNN
from genzoo.models.autoregressive.pixelrnn import PixelRNN
from genzoo.models.autoregressive.pixels import RowSampler, WindowSampler, sample_pixels

__all__ = ["FVSBN", "GatedPixelCNN", "PixelCNN", "PixelRNN", "RowSampler", "WindowSampler", "sample_pixels"]
