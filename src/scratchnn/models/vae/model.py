r"""The Variational Autoencoder (Kingma & Welling, 2013), built from the layers, backward by hand.

A VAE learns a generative model ``p(x) = ∫ p(x|z) p(z) dz`` with a latent code ``z`` of
``latent_dim`` numbers, prior ``p(z) = N(0, I)``, and an *encoder* that proposes, for each
``x``, a Gaussian ``q(z|x) = N(μ(x), diag(exp(logvar(x))))`` over the codes that could have
produced it. Training maximises the evidence lower bound (ELBO) on ``log p(x)``::

    log p(x) ≥ E_q[ log p(x|z) ] − KL( q(z|x) ‖ p(z) )  =  ELBO(x)

so the loss is the *negative* ELBO, a reconstruction term plus a KL term, both summed over
pixels and latent dimensions and averaged over the batch: nats per example, comparable with
the papers and with PyTorch's reference example.

The pieces, and where they live:

- :class:`VAE`: encoder (``Dense`` + activation layers, a :class:`~scratchnn.Sequential`), two
  heads (``Dense`` layers for μ and logvar), the reparameterisation, and the decoder (another
  ``Sequential``). Its ``forward`` returns a :class:`VAEOutput` ``(out, mu, logvar)``.
- :class:`VAELoss`: the negative ELBO as a :class:`~scratchnn.losses.base.Loss` whose *target is the
  input itself*; it reuses :class:`~scratchnn.losses.bce.BCEWithLogits` (or ``MSE``) and
  :class:`~scratchnn.losses.kl.GaussianKL` and returns ``(value, (d_out, dmu, dlogvar))``.
- :class:`KLWarmup`: a callback raising β from 0 to its target over the first epochs.

Because the VAE speaks the model protocol of :func:`scratchnn.training.fit` (``forward``,
``backward``, ``parameters``, ``state_dict``, ``get_config``, ...), it trains with the same
``fit``, optimizers, History, progress bar and callbacks as the classifiers, and saves to
the same ``.npz`` format.

References: D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", 2013
(§2.4 the reparameterisation trick, Appendix B the Gaussian KL); C. Doersch, "Tutorial on
Variational Autoencoders", 2016; Y. Burda, R. Grosse and R. Salakhutdinov, "Importance
Weighted Autoencoders", 2016 (the k-sample bound of :meth:`VAE.log_likelihood`).

Examples
--------
>>> import numpy as np
>>> from scratchnn.models import VAE
>>> rng = np.random.default_rng(0)
>>> X = (rng.random((256, 12)) < 0.3).astype(np.float32)  # binary "images" of 12 pixels
>>> vae = VAE(input_dim=12, hidden=(16,), latent_dim=2, rng=0)
>>> history = vae.fit(X, epochs=3, batch_size=32, seed=0, verbose=0)
>>> history.to_dataframe()[["loss", "recon", "kl"]].shape
(3, 3)
>>> vae.sample(5, rng=rng).shape, vae.reconstruct(X[:4]).shape
((5, 12), (4, 12))
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..._validation import as_float_array, as_generator, check_positive
from ...errors import InputError, NotFittedError, ShapeError
from ...layers import Dense, Identity, Module
from ...layers.activations import sigmoid
from ...loop import evaluate_means
from ...model import Model, Sequential
from ...registry import MODULES
from ...training import Callback, History, fit
from .likelihood import importance_weighted_log_likelihood
from .loss import LIKELIHOODS, VAELoss, VAEOutput, reparameterize
from .warmup import KLWarmup

__all__ = ["VAE", "VAEEvaluation"]

_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")


class VAEEvaluation(NamedTuple):
    """Result of :meth:`VAE.evaluate`, in nats per example (one sample of z per example)."""

    neg_elbo: float
    recon: float
    kl: float


class VAE(Model):
    r"""Variational Autoencoder with a Gaussian encoder q(z|x) and a Bernoulli or Gaussian decoder.

    Parameters
    ----------
    input_dim : int
        D, features per example (784 for MNIST). Images ``(N, 28, 28)`` are flattened.
    hidden : sequence of int
        Hidden layer sizes of the encoder; the decoder mirrors them (``(400,)``: the classic
        784-400-20-400-784 network). ``()`` makes both maps linear.
    latent_dim : int
        J, the size of the code z.
    likelihood : {"bernoulli", "gaussian"}
        ``"bernoulli"``: the decoder outputs logits, p(x|z) = Π_d Bernoulli(σ(out_d)) (for data
        in [0, 1] such as MNIST intensities). ``"gaussian"``: the decoder outputs the mean of
        ``N(out, σ_x² I)`` with a *fixed*, not learned, standard deviation ``obs_std`` σ_x.
    obs_std : float
        σ_x of the Gaussian likelihood; smaller values weigh reconstruction more.
    activation : str
        Hidden activation (``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``).
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's ``nn.Linear`` default) and of the noise ε.
    dtype : numpy dtype
        float32 (default) or float64, for every parameter and computation.

    Math
    ----
    Shapes: X ``(N, D)``, H ``(N, K)``, μ, logvar, σ, ε, z ``(N, J)``. Forward::

        H       = encoder(X)                    h = act(W₁ x + b₁)            (F1)
        μ       = H @ Wμ.T + bμ                  mean head                     (F2)
        logvar  = H @ Wlv.T + blv                log-variance head, log σ²     (F3)
        σ       = exp(½ logvar)                  std (not exp(logvar)!)        (F4)
        z       = μ + σ ⊙ ε,   ε ~ N(0, I)       reparameterisation, §2.4      (F5)
        out     = decoder(z)                     logits (or mean) of p(x|z)    (F6)

    The loss (:class:`VAELoss`) returns ``d_out = ∂L/∂out`` and the KL's own gradients
    ``dmu_KL = β μ/N`` and ``dlogvar_KL = β ½(exp(logvar) − 1)/N``. Backward, the chain rule
    through the forward lines in reverse order::

        dz      = decoder.backward(d_out)              ∂L/∂z, BP2 through (F6)
        dμ      = dz + dmu_KL                          ∂z/∂μ = 1 (F5); KL added here
        dlogvar = dz ⊙ ε ⊙ σ ⊙ ½ + dlogvar_KL          ∂z/∂logvar = ε ⊙ ∂σ/∂logvar = ½ σ ε (F4, F5)
        dH      = dμ @ Wμ + dlogvar @ Wlv               both heads read H: gradients add (F2, F3)
        dX      = encoder.backward(dH)                 BP2 through (F1)

    ε is drawn in ``forward`` and kept for ``backward``, so the sample z is a deterministic,
    differentiable function of (μ, logvar) given ε: this is the reparameterisation trick.
    The ELBO is a one-sample estimate in evaluation too (as in PyTorch's reference example);
    ``training`` only switches layers such as Dropout.

    Examples
    --------
    >>> vae = VAE(784, hidden=(400,), latent_dim=20, rng=0)
    >>> [name for name, _, _ in vae.parameters()][:4]
    ['encoder.0.W', 'encoder.0.b', 'mu.W', 'mu.b']
    >>> vae.num_parameters
    652824
    >>> out, mu, logvar = vae.forward(np.zeros((3, 784), dtype=np.float32))
    >>> out.shape, mu.shape, logvar.shape
    ((3, 784), (3, 20), (3, 20))
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden: Sequence[int] = (400,),
        latent_dim: int = 20,
        likelihood: str = "bernoulli",
        obs_std: float = 1.0,
        activation: str = "relu",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(dtype)
        check_positive(input_dim, "input_dim", integer=True)
        check_positive(latent_dim, "latent_dim", integer=True)
        if isinstance(hidden, numbers.Integral):
            hidden = (int(hidden),)
        hidden = tuple(hidden)
        for size in hidden:
            check_positive(size, "each hidden size", integer=True)
        if likelihood not in LIKELIHOODS:
            raise InputError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        check_positive(obs_std, "obs_std")
        key = activation.lower().replace("-", "_")
        if key not in _ACTIVATIONS:
            raise InputError(
                f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATIONS)}"
            )
        self.input_dim, self.latent_dim = int(input_dim), int(latent_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.likelihood, self.obs_std, self.activation = likelihood, float(obs_std), key
        self.rng = as_generator(rng)

        def stack(sizes: Sequence[int], last_linear: bool) -> Sequential:
            layers: list[Module] = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(Dense(n_in, n_out, rng=self.rng, dtype=self.dtype))
                if not (last_linear and i == len(sizes) - 2):
                    layers.append(MODULES.get(key)())
            return Sequential(layers or [Identity()], dtype=self.dtype)

        top = self.hidden[-1] if self.hidden else self.input_dim
        # the children, in forward order; their arrays are named encoder.0.W, mu.W, ...
        self.encoder = self.add("encoder", stack((self.input_dim, *self.hidden), False))
        self.mu_head = self.add("mu", Dense(top, self.latent_dim, rng=self.rng, dtype=self.dtype))
        self.logvar_head = self.add(
            "logvar", Dense(top, self.latent_dim, rng=self.rng, dtype=self.dtype)
        )
        self.decoder = self.add(
            "decoder", stack((self.latent_dim, *self.hidden[::-1], self.input_dim), True)
        )
        self._eps: np.ndarray | None = None
        self._std: np.ndarray | None = None

    # -- structure ------------------------------------------------------------------------
    @property
    def output_dim(self) -> int:
        """D: the decoder reconstructs the input."""
        return self.input_dim

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"VAE({args})"

    def summary(self) -> str:
        """The encoder, heads and decoder with their parameter counts (returned, not printed)."""
        lines = [repr(self)]
        for name, child in self.children.items():
            layers = child.layers if isinstance(child, Sequential) else [child]
            described = ", ".join(repr(layer) for layer in layers)
            lines.append(f"  {name:<8} {described}  ({child.num_parameters:,} parameters)")
        lines.append(f"total parameters: {self.num_parameters:,} ({self.dtype.name})")
        return "\n".join(lines)

    # -- forward and backward ---------------------------------------------------------------
    def forward(
        self, X: np.ndarray, training: bool = True, eps: np.ndarray | None = None
    ) -> VAEOutput:
        """``(out, mu, logvar)`` for a batch; draws ε ~ N(0, I) from ``self.rng`` unless given.

        Pass ``eps`` (shape ``(N, latent_dim)``) to hold the noise fixed, as the gradient
        checks and the PyTorch parity test do.
        """
        H = self.encoder.forward(X, training=training)  # (F1)
        mu = self.mu_head.forward(H)  # (F2)
        logvar = self.logvar_head.forward(H)  # (F3)
        if eps is None:
            eps = self.rng.standard_normal(mu.shape, dtype=self.dtype)
        elif eps.shape != mu.shape:
            raise ShapeError(f"eps has shape {eps.shape}; it must be {mu.shape} (N, latent_dim)")
        z, std = reparameterize(mu, logvar, eps)  # (F4), (F5)
        out = self.decoder.forward(z, training=training)  # (F6)
        self._eps, self._std = eps, std
        return VAEOutput(out, mu, logvar)

    __call__ = forward

    def backward(
        self, dY: tuple[np.ndarray, np.ndarray, np.ndarray], input_grad: bool = True
    ) -> np.ndarray | None:
        """Backpropagate ``(d_out, dmu_KL, dlogvar_KL)`` from :class:`VAELoss`, setting every gradient.

        Returns ``dX`` (or ``None`` with ``input_grad=False``, which ``fit`` uses).
        See the class docstring for the equation behind each line.
        """
        d_out, dmu_kl, dlogvar_kl = dY
        eps, std = self._cached_noise()
        dz = self.decoder.backward(d_out)  # ∂L/∂z: BP2 through the decoder      (F6)
        dmu = dz + dmu_kl  # ∂z/∂μ = 1, plus the KL's β μ/N                        (F5)
        # ∂z/∂logvar = ε ⊙ ∂σ/∂logvar = ½ σ ε, plus the KL's β ½(e^logvar − 1)/N  (F5, F4)
        dlogvar = dz * eps * std * 0.5 + dlogvar_kl
        dH = self.mu_head.backward(dmu)  # dμ @ Wμ, setting dWμ, dbμ            (F2)
        dH += self.logvar_head.backward(dlogvar)  # + dlogvar @ Wlv: both read H (F3)
        return self.encoder.backward(dH, input_grad=input_grad)  # BP2 down     (F1)

    def _cached_noise(self) -> tuple[np.ndarray, np.ndarray]:
        if self._eps is None or self._std is None:
            raise NotFittedError("VAE.backward was called before forward; call forward(X) first")
        return self._eps, self._std

    # -- training -------------------------------------------------------------------------
    def loss(self, beta: float = 1.0) -> VAELoss:
        """The negative ELBO for this model's likelihood, with KL weight ``beta``."""
        return VAELoss(self.likelihood, beta=beta, obs_std=self.obs_std)

    def fit(
        self,
        X: Any,
        *,
        beta: float = 1.0,
        warmup_epochs: int = 0,
        validation_data: Any = None,
        callbacks: Sequence[Callback] = (),
        **kwargs: Any,
    ) -> History:
        """Minimise the negative ELBO with :func:`scratchnn.training.fit`; returns the History.

        ``beta`` weighs the KL term (β-VAE); ``warmup_epochs > 0`` adds a :class:`KLWarmup`.
        ``validation_data`` is an array of inputs (or a pair ``(X_val, None)``). Every other
        argument (``optimizer``, ``epochs``, ``batch_size``, ``seed``, ``verbose``, ...) is
        passed to ``fit``; the History gains ``recon`` and ``kl`` columns (and ``val_*``).
        """
        loss = kwargs.pop("loss", None) or self.loss(beta)
        callbacks = list(callbacks)
        if warmup_epochs:
            callbacks.insert(0, KLWarmup(loss, warmup_epochs))
        if validation_data is not None and not isinstance(validation_data, tuple):
            validation_data = (validation_data, None)
        return fit(
            self, X, None, loss=loss, validation_data=validation_data, callbacks=callbacks, **kwargs
        )

    def evaluate(self, X: Any, batch_size: int = 1024) -> VAEEvaluation:
        """Negative ELBO, reconstruction and KL terms on ``X`` (nats per example, β = 1).

        One z is sampled per example from ``self.rng``, as in PyTorch's reference example; the
        estimate is unbiased for the ELBO. :meth:`log_likelihood` gives a tighter bound.
        """
        check_positive(batch_size, "batch_size", integer=True)
        loss = self.loss()
        X = self.check_input(X)
        means = evaluate_means(
            self, X, loss.prepare_target(X, *X.shape, self.dtype), loss, batch_size
        )
        return VAEEvaluation(means["loss"], means["recon"], means["kl"])

    # -- using a trained model ------------------------------------------------------------
    def check_input(self, X: Any, name: str = "X") -> np.ndarray:
        """``X`` as ``(N, input_dim)`` rows of the model's dtype (images are flattened)."""
        X = as_float_array(X, self.dtype, name=name)
        if X.ndim > 2:
            X = X.reshape(X.shape[0], -1)  # images (N, H, W) -> (N, H·W)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            got = X.shape[1] if X.ndim == 2 else X.shape[1:]
            raise ShapeError(
                f"{name} has {got} features per example but the VAE expects {self.input_dim}; "
                "use data with the same pixels the model was trained on"
            )
        return X

    def encode(self, X: Any, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """``(μ, logvar)`` of q(z|x) for every row of ``X``, in evaluation mode."""
        check_positive(batch_size, "batch_size", integer=True)
        X = self.check_input(X)
        mus, logvars = [], []
        for start in range(0, X.shape[0], batch_size):
            H = self.encoder.forward(X[start : start + batch_size], training=False)
            mus.append(self.mu_head.forward(H))
            logvars.append(self.logvar_head.forward(H))
        return np.concatenate(mus), np.concatenate(logvars)

    def decode(self, Z: Any, logits: bool = False, batch_size: int = 1024) -> np.ndarray:
        """The mean of p(x|z) for codes ``Z`` ``(N, latent_dim)``: pixel probabilities
        σ(out) for a Bernoulli decoder (or its logits with ``logits=True``), ``out`` for Gaussian."""
        check_positive(batch_size, "batch_size", integer=True)
        Z = as_float_array(Z, self.dtype, name="Z")
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise ShapeError(f"Z has shape {Z.shape}; codes must be (N, {self.latent_dim})")
        out = np.concatenate(
            [
                self.decoder.forward(Z[start : start + batch_size], training=False)
                for start in range(0, Z.shape[0], batch_size)
            ]
        )
        if self.likelihood == "bernoulli" and not logits:
            out = sigmoid(out)
        return out

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` new examples: z ~ N(0, I) from the prior, decoded to the mean of p(x|z)."""
        check_positive(n, "n", integer=True)
        rng = as_generator(rng)
        return self.decode(rng.standard_normal((n, self.latent_dim)).astype(self.dtype))

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """What a VAE predicts for ``X``: its reconstruction, the mean of p(x|z) at z = μ(x)."""
        mu, _ = self.encode(X, batch_size=batch_size)
        return self.decode(mu, batch_size=batch_size)

    def reconstruct(self, X: Any, sample: bool = False) -> np.ndarray:
        """Decode the code of each row of ``X``: z = μ(x), or a sample of q(z|x) with ``sample``."""
        mu, logvar = self.encode(X)
        if sample:
            mu, _ = reparameterize(mu, logvar, self.rng.standard_normal(mu.shape, dtype=self.dtype))
        return self.decode(mu)

    def log_likelihood(
        self,
        X: Any,
        k: int = 100,
        rng: np.random.Generator | int | None = None,
        max_rows: int = 8192,
    ) -> np.ndarray:
        r"""Importance-weighted estimate of ``log p(x)`` for every row of ``X``, in nats.

        With k samples ``z_i ~ q(z|x)`` (Burda et al. 2016)::

            log w_i  = log p(x|z_i) + log p(z_i) − log q(z_i|x)
            log p(x) ≈ log (1/k) Σ_i w_i  =  logsumexp_i(log w_i) − log k

        a lower bound on ``log p(x)`` in expectation that tightens as k grows (k = 1 is the
        ELBO). The sum of ``w_i`` is taken with the log-sum-exp trick (subtract the largest
        ``log w_i`` first), in float64, since the ``w_i`` themselves under- or overflow.
        ``max_rows`` bounds the decoder batch (examples × k) held in memory at once.
        """
        check_positive(k, "k", integer=True)
        check_positive(max_rows, "max_rows", integer=True)
        rng = as_generator(rng if rng is not None else self.rng)
        X = self.check_input(X)
        if self.likelihood == "bernoulli":
            VAELoss("bernoulli").prepare_target(X, *X.shape, self.dtype)
        return importance_weighted_log_likelihood(self, X, k, rng, max_rows)

    # -- state --------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as plain JSON values."""
        return {
            "input_dim": self.input_dim,
            "hidden": list(self.hidden),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "obs_std": self.obs_std,
            "activation": self.activation,
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        """Rebuild an (untrained) VAE from :meth:`get_config`'s output (scratchnn 0.1 files
        also said ``"class": "VAE"`` in it)."""
        config = {k: v for k, v in config.items() if k != "class"}
        return cls(**config)
