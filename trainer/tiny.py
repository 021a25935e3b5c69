"""Tiny random Qwen2.5-VL models for tests and demos — built offline, no downloads.

A tiny model here is a real ``Qwen2_5_VLForConditionalGeneration`` with a real processor
(``Qwen2_5_VLProcessor``: image processor, video processor, tokenizer, chat template), saved with
``save_pretrained`` so it loads through exactly the code path a released 7B uses::

    AutoProcessor.from_pretrained(d)
    AutoModelForImageTextToText.from_pretrained(d)                      # fp32
    AutoModelForImageTextToText.from_pretrained(                        # bitsandbytes, CPU works
        d, quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"))

Its weights are random: it is **not** a detector. ``trainer.teach`` can teach it exact answers so
that the app's pipeline runs on genuine model output in tests.

Pieces:

* ``build_tokenizer()`` — a byte-level BPE tokenizer trained deterministically on the small corpus
  in this module. Byte-level means every string (any unicode, JSON, newlines, leading spaces)
  encodes and decodes losslessly. The pre-tokenizer mirrors Qwen2's (digits one by one, words with
  their leading space) but without Qwen's NFC normalizer, which would break the round trip.
  Qwen's special tokens are appended after the BPE vocabulary, as in Qwen.
* ``CHAT_TEMPLATE`` — Qwen2.5-VL's chat format, written by us.
* ``tiny_config()`` / ``build_tiny_model()`` — the config, random weights and processor.

Every Linear layer's input size is a multiple of 64 (bitsandbytes' 4-bit block size), so the
model also loads in 4-bit nf4 on a CPU.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Resize bounds of the tiny models' processors, in pixels (Qwen2.5-VL's ``smart_resize``, factor
# 28 = patch 14 x merge 2; one vision token per 28 x 28 pixels after merging).
#  * MIN_PIXELS = 4 tokens' worth (56 x 56, the library default): tiny close-ups stay legal.
#  * MAX_PIXELS = 36 tokens' worth: a 256 x 256 test image is resized to 168 x 168, i.e. a 12 x 12
#    patch grid and 6 x 6 = 36 vision tokens in the prompt. Small enough for fast CPU tests,
#    large enough that boxes have a few dozen distinct pixel positions.
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 36 * 28 * 28

# Model sizes. "tiny" is the test model; "demo" is the bundled demo checkpoint's architecture
# (trained from scratch by `lte-train demo`): wider and deeper, images seen at up to 224 x 224
# (64 vision tokens) so planted artifacts survive the global view. Every Linear input is a
# multiple of 64 (bitsandbytes 4-bit).
SIZES: dict[str, dict[str, int]] = {
    "tiny": {
        "hidden": 128, "intermediate": 256, "layers": 2, "heads": 4, "kv_heads": 2,
        "vision_hidden": 64, "vision_intermediate": 128, "vision_depth": 2, "vision_heads": 2,
        "min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS,
    },
    "demo": {
        "hidden": 192, "intermediate": 384, "layers": 4, "heads": 6, "kv_heads": 2,
        "vision_hidden": 128, "vision_intermediate": 256, "vision_depth": 4, "vision_heads": 4,
        "min_pixels": 4 * 28 * 28, "max_pixels": 64 * 28 * 28,
    },
}

SPECIAL_TOKENS: tuple[str, ...] = (
    # Same names and the same order as Qwen2.5's (ids 151643..151656 there).
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

BPE_VOCAB_SIZE = 3072  # target size of the learned vocabulary (bytes + merges), before specials

# Qwen2's pre-tokenizer pattern: contractions, words (with one leading non-letter, e.g. a space),
# single digits, punctuation runs (with trailing newlines), newline runs, other whitespace.
_PRETOKENIZE_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5-VL's chat format. Content may be a string or a list of parts: image parts (type
# "image", or an "image"/"image_url" key) become <|vision_start|><|image_pad|><|vision_end|>
# (the processor expands the pad to one token per vision token), video parts likewise with
# <|video_pad|>, text parts their text, verbatim. A default system turn is inserted when the
# conversation does not start with one. Assistant content is emitted verbatim so that
# template(conversation + answer + next turn) begins with template(conversation, generation
# prompt) + answer — Query 2 reuses Query 1's KV cache on that basis.
CHAT_TEMPLATE = r"""{%- if not messages or messages[0]['role'] != 'system' -%}
{{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' -}}
{%- endif -%}
{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' -}}
{%- if message['content'] is string -%}
{{- message['content'] -}}
{%- else -%}
{%- for part in message['content'] -%}
{%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}
{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}
{%- elif part['type'] == 'video' or 'video' in part -%}
{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}
{%- elif 'text' in part -%}
{{- part['text'] -}}
{%- endif -%}
{%- endfor -%}
{%- endif -%}
{{- '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}
"""

# --------------------------------------------------------------------------------------------
# The tokenizer's training corpus: forensic English, the answer grammar, JSON, chat markup.
# Changing it changes every tiny model's vocabulary (and so its weights): treat as versioned.
# --------------------------------------------------------------------------------------------

_CORPUS_TEXT = r"""
You are a helpful assistant.
You are an expert in image forensics. You decide whether an image is a real photograph or
AI-generated, and you ground every claim in specific regions of the image.
Examine this image and decide whether it is a real photograph or AI-generated.
1. Explain what you see that supports your judgement.
2. Locate the regions that deserve a closer look: areas generators often get wrong (faces, hands,
paws, small text, logos, reflections, shadows, repeated textures) or fine details that are hard to
fake. Give each region as {"bbox_2d": [x1, y1, x2, y2], "label": "..."} with coordinates in pixels
of the image as you see it, or on a 0-1000 scale relative to the image width and height.
3. Give your initial verdict: real or ai-generated.
Answer exactly in this form:
<explanation>...</explanation>
<regions>[...]</regions>
<verdict>real or ai-generated</verdict>
Here are close-ups of the regions you located, magnified. Compare each close-up with the whole
image, state what it shows and which verdict it points to, then give your corrected verdict.
<findings>[{"region": 1, "observation": "...", "points_to": "real or ai-generated"}, ...]</findings>
<tags>zero or more of: perspective, artistic-style, unknown-object, structure, texture, other</tags>
Close-up 1: hand with six fingers
Close-up 2: face of the woman on the left
Close-up 3: text on the shop sign
<explanation>The skin texture is unnaturally smooth and the lighting on the face does not match
the shadows cast by the trees. The hand on the railing has six fingers and the letters on the
sign are garbled.</explanation>
<regions>[{"bbox_2d": [112, 40, 168, 98], "label": "hand with six fingers"}, {"bbox_2d": [20, 8,
84, 70], "label": "face with waxy skin"}, {"bbox_2d": [0, 120, 140, 168], "label": "garbled text
on the sign"}]</regions>
<verdict>ai-generated</verdict>
<findings>[{"region": 1, "observation": "The hand has six fingers that merge into each other.",
"points_to": "ai-generated"}, {"region": 2, "observation": "Pores, fine hairs and a small scar
are visible; the skin looks like a real photograph.", "points_to": "real"}, {"region": 3,
"observation": "The letters are consistent, sharp and follow the perspective of the wall.",
"points_to": "real"}]</findings>
<explanation>The close-ups show natural sensor noise, consistent shadows and legible text. The
first impression of smooth skin came from compression, not from a generator.</explanation>
<tags>texture, structure</tags>
<verdict>real</verdict>
The photograph shows a street at night with wet asphalt, neon signs and reflections in puddles.
The reflections follow the geometry of the buildings and the light sources are consistent.
The background is blurred with a natural bokeh; the edges of the hair are sharp and detailed.
The image contains a dog on a beach; its paws are deformed and the sand texture repeats in tiles.
Repeated patterns in the brick wall, melted jewelry, asymmetric earrings and extra limbs are
typical artifacts of diffusion models and generative adversarial networks.
The eyes have different pupil shapes and the iris reflections do not match the window light.
The clock face has no numbers and the hands point to impossible positions.
The license plate is unreadable, the logo is distorted and the handwriting is gibberish.
The fence bars bend, the window frames are not straight and the vanishing points disagree.
A real camera leaves chromatic aberration, lens distortion, vignetting, motion blur, JPEG blocks,
demosaicing traces and EXIF metadata; generated images often lack these traces or fake them.
The lighting is natural, the shadow directions agree with the sun, and the depth of field is
plausible for the focal length. Fine details such as threads, grass, leaves, water droplets and
skin pores are rendered consistently across the frame.
The person's teeth merge into one white band; the ear is malformed; the glasses have mismatched
lenses; the fingers are fused; the arm bends at an impossible angle; the neck is too long.
Noise level, color temperature, saturation, contrast, sharpness, edges, gradients, halos,
banding, oversmoothing, plastic look, painterly strokes, artistic style, unknown object,
perspective error, physics violation, inconsistent illumination, watermark, signature, caption.
Observation: the region is consistent with a real photograph. Observation: the region points to
an AI-generated image. The evidence is inconclusive. The closer look confirms the first verdict.
The closer look changes the verdict: the suspicious region turned out to be a reflection.
Investigator, examiner, analyst, newsroom, fact-checker, evidence, case, report, custody, hash,
sha256, width, height, format, jpeg, png, webp, tiff, camera, model, lens, exposure, iso, date.
Query 1 locate, Query 2 examine, initial verdict, corrected verdict, final verdict, confidence,
probability, changed, unchanged, unparsed, problems, region, regions, finding, findings, label,
labels, box, boxes, bbox_2d, points_to, observation, explanation, verdict, tags, real,
ai-generated, close-up, magnified, crop, zoom, context, padding, grid, patch, pixel, pixels.
{"image": "img_0001.jpg", "label": "ai-generated", "width": 1024, "height": 768, "regions": []}
{"region": 2, "observation": "Blurred text with inconsistent stroke widths.", "points_to": null}
[{"bbox_2d": [0, 0, 28, 28], "label": "sky"}, {"bbox_2d": [56, 84, 112, 140], "label": "cat"}]
{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Is this real?"}]}
{"role": "assistant", "content": "<verdict>real</verdict>"} true false null 0.5 -1 1e-3
<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>
<|im_start|>assistant
The image shows a red car parked in front of a house with a green door.<|im_end|>
    def main(argv=None) -> int:
        return 0
	tabs	and	spaces	  mixed  here
ÄÖÜ äöü ß é è ê à ç ñ ø å æ œ — “quoted” ‘single’ … € £ ¥ ° ± × ÷ µ
Фото, изображение, подделка. 照片 图像 生成 真实 伪造. 写真 画像.
사진 이미지. صورة. תמונה. 🙂📷🖼️✅❌
"""

_WORDS_TEXT = """
a an the this that these those is are was were be been being has have had do does did not no yes
of in on at by for with from to into onto over under above below between behind near far left
right top bottom middle center corner edge background foreground subject object scene person
people man woman child dog cat bird horse car bus bike tree trees sky cloud clouds sun moon water
sea river lake beach sand snow grass flower flowers leaf leaves road street building buildings
wall walls window windows door doors roof floor table chair cup glass bottle book paper sign
signs poster screen phone laptop keyboard clock watch ring necklace earring earrings glasses hat
shirt jacket dress shoe shoes hair eye eyes nose mouth lips teeth ear ears neck shoulder arm arms
hand hands finger fingers thumb nail nails leg legs foot feet paw paws tail fur feather feathers
skin pore pores wrinkle wrinkles freckle freckles scar beard eyebrow eyebrows eyelash eyelashes
face faces head body text letters letter word words digits number numbers logo logos font fonts
shadow shadows light lights lighting highlight highlights reflection reflections mirror puddle
texture textures structure structures pattern patterns repeated repeating repetition tile tiles
smooth smoothed rough sharp blurry blurred blur noise noisy grain grainy clean clear detailed
natural unnatural realistic unrealistic plausible implausible consistent inconsistent coherent
incoherent symmetric asymmetric distorted deformed malformed fused merged missing extra six five
four three two one seven eight nine ten zero many few several some all none every each other
color colors colour colours red green blue yellow orange purple pink brown black white gray grey
bright dark dim warm cool saturated desaturated vivid dull glossy matte waxy plastic metallic
real fake genuine authentic synthetic generated generator generators diffusion model models gan
photograph photographs photo photos image images picture pictures camera cameras render rendered
artifact artifacts anomaly anomalies evidence evidences suggests suggest indicates indicate shows
show looks look appears appear seems seem because although however therefore while whereas and
or but so if then than also only very quite slightly strongly likely unlikely probably possibly
clearly visible invisible hidden obvious subtle small large tiny huge thin thick long short wide
narrow straight curved bent broken warped melted garbled illegible legible readable unreadable
region regions area areas part parts detail details closer close look looks examine examined
locate located verdict verdicts explanation explanations finding findings observation observations
label labels tag tags points_to bbox_2d perspective artistic-style unknown-object other ai-generated
about after again against almost alone along already always among another answer any anything
around ask asked away back became become before began being believe best better both bring brought
came can cannot carry case cause certain change changed changes check checked come common compare
compared could course cut day days different does done down during early either else end enough
even ever example explain explained fact feel felt first follow following found general get give
given go going good got great group hard help here high hold however idea important instead it its
itself just keep kind knew know known last later least less let life line little make made matter
may maybe mean means might more most much must need never new next night nothing now off often old
once open order own place point possible present problem put rather reason really result same saw
say second see seen set should side since something sometimes state still such sure take taken tell
thing things think though thought through time together too took toward true turn turned until
upon use used using usually want way well went what when where which who whole why will within
without work world would year years you your wrong correct correctly incorrect accuracy accurate
analysis analyse analyze analysed analyzed inspector investigation investigator investigators
forensic forensics detector detection detect detected manipulation manipulated edited editing
splicing spliced copy move inpainting inpainted upscaled upscaling compression compressed
resampling resampled interpolation frequency spectrum periodic periodicity fourier checkerboard
sensor demosaicing chromatic aberration vignetting exposure overexposed underexposed focus focused
defocused depth field bokeh aperture shutter lens lenses focal length tripod handheld flash
portrait landscape selfie street interior exterior kitchen bedroom office market crowd concert
stadium forest mountain mountains desert field farm city village bridge tower church temple statue
painting drawing illustration cartoon anime sketch watercolor oil digital art artwork studio
lamp candle fire smoke fog rain storm lightning sunset sunrise shade shaded silhouette contour
outline boundary boundaries seam seams halo halos fringe fringes banding posterization aliasing
jagged staircase moire ringing blocking block blocks macroblock quantization tables metadata exif
software firmware timestamp gps location author copyright thumbnail icc profile orientation
mismatch mismatched mismatching match matches matching agree agrees disagree disagrees conflict
conflicting contradiction contradicts support supports supporting refute refutes neutral uncertain
certain certainty confident confidence probability probable score scores threshold calibrated
initial final corrected correction revised revision first second third fourth fifth sixth
zoomed zooming magnify magnified magnification upsample closeup closeups crops cropped cropping
fingernails knuckle knuckles wrist palm palms elbow knee knees toes toe heel ankle chin cheek
cheeks forehead temple jaw jawline tongue gums iris pupil pupils sclera eyelid eyelids lashes
tooth incisor smile smiling frown hairline strand strands curl curls braid braids ponytail bangs
glove gloves sleeve sleeves collar button buttons zipper pocket pockets belt buckle strap straps
bag bags backpack umbrella bracelet watches jewelry jewellery pendant chain chains tie scarf cap
letters lettering typography typeface glyph glyphs character characters alphabet spelling
misspelled nonsense gibberish scribble scribbles caption captions subtitle headline banner
plate plates license registration numberplate storefront signage billboard menu label price
brand trademark emblem badge flag flags uniform insignia map chart diagram graph table tables
fabric cloth clothes clothing wool cotton leather denim silk lace knit pattern stripes plaid
wood wooden stone stones brick bricks concrete tile tiled marble metal steel iron glassy ceramic
surface surfaces material materials object objects item items thing shape shapes geometry
geometric physical physics gravity floating float floats hovering intersect intersecting clipping
overlapping overlap occlusion occluded hidden partially fully entirely mostly largely barely
"""
_WORDS = _WORDS_TEXT.split()

_SENTENCE_FRAMES = (
    "The {a} in the {b} looks {c}.",
    "The {a} has {c} {b} and the {b} is {c}.",
    "{A} {b} and {c} {a} suggest the image is {v}.",
    '{{"bbox_2d": [{x1}, {y1}, {x2}, {y2}], "label": "{c} {a}"}}',
    '{{"region": {n}, "observation": "The {a} is {c}.", "points_to": "{v}"}}',
    "<explanation>The {a} is {c} and the {b} shows {c} {a}.</explanation>",
    "<verdict>{v}</verdict>",
)


def _corpus() -> list[str]:
    """The fixed training corpus (deterministic: no randomness, no environment)."""
    lines = _CORPUS_TEXT.strip("\n").split("\n")
    lines.append(" ".join(_WORDS))
    lines.append(" ".join(w.capitalize() for w in _WORDS))
    # Deterministic combinations (a linear congruential walk over the word list).
    n = len(_WORDS)
    state = 12345
    for i in range(1500):
        picks = []
        for _ in range(4):
            state = (state * 1103515245 + 12345) % (2**31)
            picks.append(_WORDS[state % n])
        frame = _SENTENCE_FRAMES[i % len(_SENTENCE_FRAMES)]
        a, b, c, d = picks
        lines.append(
            frame.format(
                a=a,
                A=a.capitalize(),
                b=b,
                c=c,
                v=("real", "ai-generated")[state % 2],
                n=1 + i % 5,
                x1=i % 97,
                y1=(i * 7) % 89,
                x2=100 + i % 61,
                y2=120 + (i * 3) % 47,
            )
            + (" " + d if i % 3 == 0 else "")
        )
    return lines


def build_tokenizer():
    """A byte-level BPE ``PreTrainedTokenizerFast`` with Qwen's special tokens, built offline.

    Deterministic: the same corpus and settings always give the same vocabulary and merges. The
    tokenizer pads on the left (for batched generation); eos is ``<|im_end|>``, pad is
    ``<|endoftext|>`` (as in Qwen2.5-VL-Instruct); there is no bos token.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(byte_fallback=False, fuse_unk=False))
    tok.normalizer = None  # no NFC: keep the round trip exact for any unicode string
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_PRETOKENIZE_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
        split_special_tokens=False,
    )
    from tokenizers import AddedToken

    fast.add_special_tokens(
        {
            "additional_special_tokens": [
                AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False)
                for t in SPECIAL_TOKENS
            ]
        }
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


# The language model's rotary base, as Qwen2.5's. A low one (about 100) lets M-RoPE's width
# frequencies turn enough across a small image's token columns for attention to tell columns
# apart (at 10^6 they turn < 0.002 rad across 8 columns; decision 0004, "Locating").
DEFAULT_ROPE_THETA = 1e6
# M-RoPE's split of the head_dim/2 rotary frequencies into temporal / height / width parts.
# Qwen2.5-VL's code cycles t, h, w over however many parts the list has, so sixteen parts of one
# frequency interleave them: width then owns high frequencies too (columns readable) while the
# text keeps the low ones that long-range attention by content needs (decision 0004, E14).
DEFAULT_MROPE_SECTION = (4, 6, 6)
INTERLEAVED_MROPE_SECTION = (1,) * 16


def _mrope_section(section: Sequence[int] | None, dims: dict[str, int]) -> list[int]:
    rotary = dims["hidden"] // dims["heads"] // 2
    section = list(section or DEFAULT_MROPE_SECTION)
    if sum(section) != rotary or min(section) < 1:
        raise ValueError(f"mrope_section must be positive parts summing to {rotary} "
                         f"(head_dim / 2), got {section}")
    return section


def tiny_config(seed: int = 0, tokenizer=None, size: str = "tiny",
                rope_theta: float | None = None, mrope_section: Sequence[int] | None = None):
    """The ``Qwen2_5_VLConfig`` of a tiny model whose token ids point at ``tokenizer``'s tokens.

    ``seed`` does not change the architecture; it is accepted so a config and the weights built
    from it can be named together. Sizes: text hidden 128 (2 layers, 4 heads of 32, 2 kv heads,
    MLP 256), vision hidden 64 (depth 2, 2 heads, MLP 128, patch 14, merge 2), so every Linear
    input is 64, 128 or 256: multiples of bitsandbytes' 64-element 4-bit block.
    """
    del seed  # architecture is seed-independent
    from transformers import Qwen2_5_VLConfig

    dims = _size(size)
    tok = tokenizer if tokenizer is not None else build_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab_size = _round_up(len(tok), 64)
    text_config = {
        "vocab_size": vocab_size,
        "hidden_size": dims["hidden"],
        "intermediate_size": dims["intermediate"],
        "num_hidden_layers": dims["layers"],
        "num_attention_heads": dims["heads"],  # head_dim 32
        "num_key_value_heads": dims["kv_heads"],
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "use_sliding_window": False,
        "max_window_layers": dims["layers"],
        "attention_dropout": 0.0,
        # mrope: temporal/height/width sections over head_dim/2 = 16 rotary frequencies.
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": float(rope_theta or DEFAULT_ROPE_THETA),
            "mrope_section": _mrope_section(mrope_section, dims),
        },
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "initializer_range": 0.02,
    }
    vision_config = {
        "depth": dims["vision_depth"],
        "hidden_size": dims["vision_hidden"],
        "intermediate_size": dims["vision_intermediate"],
        "num_heads": dims["vision_heads"],
        "in_channels": 3,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,  # 4 x 4 merged tokens per window, as in the real model
        # window attention in the other blocks, full attention in the last (as in the real model)
        "fullatt_block_indexes": [dims["vision_depth"] - 1],
        "out_hidden_size": dims["hidden"],  # must equal the text hidden size
        "tokens_per_second": 2,
        "hidden_act": "silu",
        "initializer_range": 0.02,
    }
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
        dtype="float32",
    )


def _size(size: str) -> dict[str, int]:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}; got {size!r}")
    return SIZES[size]


def build_processor(tokenizer=None, size: str = "tiny"):
    """A ``Qwen2_5_VLProcessor`` with the size's resize bounds pinned and our chat template."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    dims = _size(size)
    tok = tokenizer if tokenizer is not None else build_tokenizer()
    size = {"shortest_edge": dims["min_pixels"], "longest_edge": dims["max_pixels"]}
    image_processor = Qwen2VLImageProcessor(
        size=dict(size), patch_size=14, temporal_patch_size=2, merge_size=2
    )
    video_processor = Qwen2VLVideoProcessor(
        size=dict(size), patch_size=14, temporal_patch_size=2, merge_size=2
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


_MODEL_CARD = """\
---
library_name: transformers
pipeline_tag: image-text-to-text
tags: [test-model, random-weights, lte-inspector]
---
# Tiny random vision-language test model — NOT a detector

Written by `lte-train init-tiny` (LTE Inspector, `trainer/tiny.py`), seed {seed}.

* Architecture: `{family}`, text hidden {hidden} x {layers} layers, vision hidden
  {vision_hidden} x {vision_depth} blocks, {params:,} parameters, vocabulary {vocab} (byte-level
  BPE built offline).
* Weights: **random** (seeded). Any verdict, box or explanation it produces is noise unless it was
  deliberately taught with `trainer.teach` for a test. Do not use it on evidence.
* Purpose: exercise the real loading, processing, generation, 4-bit (bitsandbytes nf4) and
  training code paths on a CPU without downloading weights.
* Processor: Qwen-VL format, images resized to between {min_pixels} and {max_pixels} pixels;
  chat template in `chat_template.jinja`.
"""


QWEN3_MIN_PIXELS = 4 * 32 * 32
QWEN3_MAX_PIXELS = 36 * 32 * 32
FAMILIES = ("qwen2_5_vl", "qwen3_vl")


def tiny_qwen3_config(tokenizer=None):
    """A tiny ``Qwen3VLConfig`` (same sizes as the Qwen2.5-VL one; patch 16, deepstack at 0)."""
    from transformers import Qwen3VLConfig

    tok = tokenizer if tokenizer is not None else build_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text_config = {
        "vocab_size": _round_up(len(tok), 64),
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [4, 6, 6],
            "mrope_interleaved": True,
        },
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision_config = {
        "depth": 2,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_heads": 2,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": 128,
        "num_position_embeddings": 64,
        "deepstack_visual_indexes": [0],
    }
    return Qwen3VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def build_qwen3_processor(tokenizer=None):
    """A ``Qwen3VLProcessor`` (patch 16, factor 32) with tiny resize bounds and our template."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    tok = tokenizer if tokenizer is not None else build_tokenizer()
    size = {"shortest_edge": QWEN3_MIN_PIXELS, "longest_edge": QWEN3_MAX_PIXELS}
    kwargs = dict(patch_size=16, temporal_patch_size=2, merge_size=2)
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=dict(size), **kwargs),
        tokenizer=tok,
        video_processor=Qwen3VLVideoProcessor(size=dict(size), **kwargs),
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(
    out_dir: Path, seed: int = 0, family: str = "qwen2_5_vl", size: str = "tiny",
    rope_theta: float | None = None, mrope_section: Sequence[int] | None = None,
) -> Path:
    """Write a tiny random Qwen2.5-VL (or Qwen3-VL) model + processor + card to ``out_dir``.

    The weights are drawn from ``torch`` seeded with ``seed`` (same seed, same weights). The
    folder holds safetensors weights only (no pickles) and loads with ``AutoProcessor`` and
    ``AutoModelForImageTextToText``. Returns ``out_dir``.
    """
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}; got {family!r}")
    dims = _size(size)
    if family == "qwen3_vl" and size != "tiny":
        raise ValueError("Qwen3-VL tiny models come in the 'tiny' size only")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    if family == "qwen3_vl":
        config, processor = tiny_qwen3_config(tok), build_qwen3_processor(tok)
        bounds = (QWEN3_MIN_PIXELS, QWEN3_MAX_PIXELS)
    else:
        config = tiny_config(seed, tok, size, rope_theta, mrope_section)
        processor = build_processor(tok, size)
        bounds = (dims["min_pixels"], dims["max_pixels"])

    cpu_rng = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(config)
    finally:
        torch.random.set_rng_state(cpu_rng)
    model = model.to(torch.float32).eval()

    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    model.generation_config = GenerationConfig(
        bos_token_id=eot,
        eos_token_id=[im_end, eot],
        pad_token_id=eot,
        do_sample=False,
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)

    n_params = sum(p.numel() for p in model.parameters())
    (out_dir / "README.md").write_text(
        _MODEL_CARD.format(
            family=type(model).__name__,
            seed=seed,
            params=n_params,
            vocab=config.text_config.vocab_size,
            min_pixels=bounds[0],
            max_pixels=bounds[1],
            **{k: dims[k] for k in ("hidden", "layers", "vision_hidden", "vision_depth")},
        ),
        encoding="utf-8",
    )
    return out_dir


def parameter_count(model_dir: Path) -> int:
    """Number of parameters stored in a model folder's safetensors files (no model is built)."""
    from safetensors import safe_open

    total = 0
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                shape = f.get_slice(key).get_shape()
                n = 1
                for s in shape:
                    n *= s
                total += n
    return total


def describe(model_dir: Path) -> dict[str, Any]:
    """A small JSON-able summary of a tiny model folder (used by the CLI)."""
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    processor = json.loads((Path(model_dir) / "processor_config.json").read_text(encoding="utf-8"))
    size = processor.get("image_processor", processor).get("size", {})
    return {
        "path": str(model_dir),
        "parameters": parameter_count(model_dir),
        "model_type": config.get("model_type"),
        "min_pixels": size.get("shortest_edge"),
        "max_pixels": size.get("longest_edge"),
    }
