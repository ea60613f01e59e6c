"""Batched answer generation for evaluation: transformers ``generate``, or vLLM.

A *generator* turns a batch of chat conversations (TRL's multimodal message
format) and their images into completion texts::

    gen = TransformersGenerator.load("/path/to/model", max_new_tokens=256)
    gen.generate([[{"role": "user", "content": [{"type": "image"},
                                                 {"type": "text", "text": "Which organ?"}]}]],
                 [[pil_image]])
    # -> ["<think>...</think><answer>B</answer>"]

- :class:`TransformersGenerator` (the default): the processor renders each
  conversation with its chat template, pads the batch on the **left** (so
  every row's new tokens start at the same column), and ``model.generate``
  decodes greedily unless sampling is asked for. Only the new tokens are
  decoded, with special tokens skipped.
- :class:`VLLMGenerator`: the same prompts through ``vllm.LLM.generate``, used
  only when ``vllm`` imports and the user asks for it (``--backend vllm``).
  vLLM is not installed in medr1's CPU test environment, so this path is not
  exercised by the test suite; it follows vLLM's documented offline
  multimodal API (``{"prompt", "multi_modal_data": {"image": [...]}}``).

torch, transformers and vllm are imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

#: Default number of questions generated together.
DEFAULT_BATCH_SIZE = 16
#: Default completion budget: room for Med-R1-style reasoning plus the answer.
DEFAULT_MAX_NEW_TOKENS = 512
BACKENDS = ("transformers", "vllm")

Messages = list[dict[str, Any]]


class BackendUnavailable(UsageError):
    """The generation backend asked for cannot be used here (e.g. vLLM is not installed)."""


@dataclass(frozen=True)
class SamplingSettings:
    """How completions are decoded. Greedy (``do_sample=False``) by default.

    Evaluation numbers are reproducible only when greedy; sampling settings
    exist to measure pass@k-style variance on purpose.
    """

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        import math

        from ..errors import ConfigError

        if self.max_new_tokens < 1:
            raise ConfigError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"--temperature must be a finite number above 0, got {self.temperature}")
        if not (0 < self.top_p <= 1):
            raise ConfigError(f"--top-p must be within (0, 1], got {self.top_p}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
        }


def pick_device() -> str:
    """``cuda`` when a GPU is visible, else ``mps`` on Apple silicon, else ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def render_prompts(processor, conversations: Sequence[Messages]) -> list[str]:
    """Each conversation through the processor's chat template, ready for generation."""
    return [processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]


class TransformersGenerator:
    """Greedy (or sampled) batched generation with a transformers model and processor.

    The processor must pad on the left (``load_model_and_processor`` sets it;
    this class enforces it too).
    """

    backend = "transformers"

    def __init__(self, model, processor, settings: SamplingSettings | None = None):
        self.model = model
        self.processor = processor
        self.settings = settings or SamplingSettings()
        tokenizer = getattr(processor, "tokenizer", processor)
        tokenizer.padding_side = "left"
        self.tokenizer = tokenizer
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.generation_config = self._generation_config()

    @classmethod
    def load(
        cls,
        source: str,
        settings: SamplingSettings | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        options=None,
    ) -> "TransformersGenerator":
        """Load the model and processor from ``source`` (hub id or directory) onto ``device``, with
        ``options`` (:class:`~medr1_core.train.config.ModelSettings`: attention, pixels, revision, ...)."""
        from ..train.models import load_model_and_processor

        device = device or pick_device()
        if dtype is None and getattr(options, "dtype", None) is None and device == "cuda":
            import torch

            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        model, processor = load_model_and_processor(source, dtype=dtype, device=device, options=options)
        model.eval()
        return cls(model, processor, settings)

    def _generation_config(self):
        import copy

        from transformers import GenerationConfig

        base = getattr(self.model, "generation_config", None)
        config = copy.deepcopy(base) if base is not None else GenerationConfig()
        s = self.settings
        config.max_new_tokens = s.max_new_tokens
        config.do_sample = s.do_sample
        config.pad_token_id = self.pad_token_id
        if s.do_sample:
            config.temperature, config.top_p = s.temperature, s.top_p
        else:  # greedy: drop sampling knobs a hub config may carry, so generate() does not warn
            config.temperature, config.top_p, config.top_k = None, None, None
        config.num_return_sequences = 1
        return config

    def generate(self, conversations: Sequence[Messages], images: Sequence[Sequence[Any]]) -> list[str]:
        """One completion text per conversation, in order.

        ``images[i]`` are the PIL images of conversation ``i``, in the order of
        its ``{"type": "image"}`` parts.
        """
        import torch

        if len(conversations) != len(images):
            raise ValueError(f"generate: {len(conversations)} conversations but {len(images)} image lists")
        if not conversations:
            return []
        texts = render_prompts(self.processor, conversations)
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if any(images):  # one list per prompt: processors that count images per prompt (Gemma 3, SmolVLM) need it
            kwargs["images"] = [list(row) for row in images]
        inputs = self.processor(**kwargs).to(self.model.device)
        dtype = getattr(self.model, "dtype", None)
        if "pixel_values" in inputs and dtype is not None and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        if self.settings.do_sample:
            torch.manual_seed(self.settings.seed)
        with torch.inference_mode():
            output = self.model.generate(**inputs, generation_config=self.generation_config)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


def vllm_available() -> bool:
    """Whether ``vllm`` can be imported here."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class VLLMGenerator:
    """Generation through vLLM's offline ``LLM.generate`` (fast on GPUs).

    Prompts are rendered with the model's own processor chat template, exactly
    as :class:`TransformersGenerator` renders them, so both backends see the
    same text. Not exercised by medr1's CPU test suite (vLLM is not installed
    there); :func:`make_generator` only builds it when asked for explicitly.
    """

    backend = "vllm"

    def __init__(self, llm, processor, settings: SamplingSettings | None = None):
        from vllm import SamplingParams

        self.llm = llm
        self.processor = processor
        self.settings = s = settings or SamplingSettings()
        self.params = SamplingParams(
            n=1,
            max_tokens=s.max_new_tokens,
            temperature=s.temperature if s.do_sample else 0.0,
            top_p=s.top_p if s.do_sample else 1.0,
            seed=s.seed,
            skip_special_tokens=True,
        )

    @classmethod
    def load(
        cls, source: str, settings: SamplingSettings | None = None, *, max_images_per_prompt: int = 1, **llm_kwargs
    ) -> "VLLMGenerator":
        """Start a vLLM engine on ``source``; ``llm_kwargs`` go to ``vllm.LLM``."""
        if not vllm_available():
            raise BackendUnavailable("--backend vllm: the 'vllm' package is not installed (pip install 'medr1[vllm]')")
        from transformers import AutoProcessor
        from vllm import LLM

        processor = AutoProcessor.from_pretrained(source)
        llm_kwargs.setdefault("limit_mm_per_prompt", {"image": max(1, max_images_per_prompt)})
        llm = LLM(model=source, **llm_kwargs)
        return cls(llm, processor, settings)

    def generate(self, conversations: Sequence[Messages], images: Sequence[Sequence[Any]]) -> list[str]:
        """One completion text per conversation, in order (see :meth:`TransformersGenerator.generate`)."""
        if len(conversations) != len(images):
            raise ValueError(f"generate: {len(conversations)} conversations but {len(images)} image lists")
        requests = []
        for text, imgs in zip(render_prompts(self.processor, conversations), images):
            request: dict[str, Any] = {"prompt": text}
            if imgs:
                request["multi_modal_data"] = {"image": list(imgs) if len(imgs) > 1 else imgs[0]}
            requests.append(request)
        outputs = self.llm.generate(requests, self.params, use_tqdm=False)
        return [out.outputs[0].text for out in outputs]


def vllm_model_kwargs(options, dtype: str | None = None) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments for ``model:`` options (vLLM picks its own attention kernels)."""
    kwargs: dict[str, Any] = {}
    dtype = dtype or getattr(options, "dtype", None)
    if dtype:
        kwargs["dtype"] = dtype
    if getattr(options, "revision", None):
        kwargs["revision"] = options.revision
    if getattr(options, "trust_remote_code", False):
        kwargs["trust_remote_code"] = True
    pixels = {k: getattr(options, k, None) for k in ("min_pixels", "max_pixels")}
    if any(v is not None for v in pixels.values()):
        kwargs["mm_processor_kwargs"] = {k: v for k, v in pixels.items() if v is not None}
    return kwargs


def make_generator(
    source: str,
    *,
    backend: str = "transformers",
    settings: SamplingSettings | None = None,
    device: str | None = None,
    dtype: str | None = None,
    max_images_per_prompt: int = 1,
    options=None,
):
    """A generator for the model at ``source`` with the named backend.

    ``backend="vllm"`` needs the ``vllm`` package and raises
    :class:`BackendUnavailable` with an install hint when it is missing; it is
    never chosen implicitly.
    """
    if backend == "transformers":
        return TransformersGenerator.load(source, settings, device=device, dtype=dtype, options=options)
    if backend == "vllm":
        kwargs = vllm_model_kwargs(options, dtype)
        return VLLMGenerator.load(source, settings, max_images_per_prompt=max_images_per_prompt, **kwargs)
    raise ValueError(f"unknown generation backend {backend!r}; expected one of {', '.join(BACKENDS)}")
