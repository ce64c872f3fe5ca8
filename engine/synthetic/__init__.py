"""Synthetic market paths: a small GAN trained on a series' bars, the bars it makes, and the
stylised facts that judge them against the real returns.

- `bars`: what a bar is to the GAN (`BAR_COLUMNS`: log return, opening gap, upper and lower wick,
  volume against its level) and how generated rows become OHLCV bars again, stitched on at the
  last real close.
- `gan`: the generator (an LSTM fed fresh noise each bar) and its training against a 1-D
  convolution discriminator; seeded, its weights a torch state_dict (loaded with
  weights_only=True) beside a JSON spec. torch is imported inside its functions only.
- `stylised`: the stylised facts of real against synthetic returns (KS, excess kurtosis,
  autocorrelation of |r| and of r at lags 1-20), each with its tolerance, and a verdict that
  names the facts a generator fails.
"""
