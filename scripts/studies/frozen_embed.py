"""Study (not product code): frozen MiniLM embeddings of each article (whole, in 256-token windows), its headline and headline + first sentence; writes /tmp/exp/emb_<W>_<MAXW>.npz. Run: python scripts/studies/frozen_embed.py 256 4"""
import re, sys, time, json
import numpy as np, torch
from pathlib import Path
from transformers import AutoModel, AutoTokenizer
from training.config import TrainConfig
from training.pipeline import load_data
from training.data import default_data_dir, read_text
from training.modeling import default_model_path
from newsclf.textprep import compose, normalize_text

torch.set_num_threads(2)
ds = load_data(TrainConfig())
root = default_data_dir()
by_text = {}
for d in sorted(p for p in root.iterdir() if p.is_dir()):
    for f in sorted(d.glob("*.txt")):
        raw = read_text(f)
        title, _, body = raw.strip().partition("\n")
        by_text.setdefault(compose(title, body), (normalize_text(title), normalize_text(body)))
titles, leads = [], []
SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
for t in ds.texts:
    title, body = by_text[t]
    first = SENT.split(body, maxsplit=1)[0] if body else ""
    titles.append(title); leads.append(compose(title, first))
path = default_model_path()
tok = AutoTokenizer.from_pretrained(path); model = AutoModel.from_pretrained(path).eval()
W = int(sys.argv[1]) if len(sys.argv) > 1 else 256
MAXW = int(sys.argv[2]) if len(sys.argv) > 2 else 4
def embed_rows(rows):  # rows: list of id lists with specials
    out = np.zeros((len(rows), 384), np.float32)
    order = np.argsort([len(r) for r in rows])
    B = 32
    for s in range(0, len(rows), B):
        idx = order[s:s+B]; L = max(len(rows[i]) for i in idx)
        ids = torch.zeros((len(idx), L), dtype=torch.long); m = torch.zeros_like(ids)
        for j, i in enumerate(idx):
            ids[j, :len(rows[i])] = torch.tensor(rows[i]); m[j, :len(rows[i])] = 1
        with torch.inference_mode():
            h = model(input_ids=ids, attention_mask=m).last_hidden_state
        e = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True)
        out[idx] = e.numpy()
    return out
def windows(text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    n = W - 2
    chunks = [ids[i:i+n] for i in range(0, max(len(ids), 1), n)][:MAXW]
    return [[tok.cls_token_id] + c + [tok.sep_token_id] for c in chunks]
t0 = time.time()
short_rows = [windows(t)[0] for t in titles] + [windows(t)[0] for t in leads]
short = embed_rows(short_rows); print("short", time.time()-t0, flush=True)
rows, owner = [], []
for i, t in enumerate(ds.texts):
    for w in windows(t): rows.append(w); owner.append(i)
print("windows", len(rows), flush=True)
E = embed_rows(rows); owner = np.array(owner)
full = np.zeros((len(ds.texts), 384), np.float32); first = np.zeros_like(full)
for i in range(len(ds.texts)):
    sel = np.where(owner == i)[0]; full[i] = E[sel].mean(0); first[i] = E[sel[0]]
print("full", time.time()-t0, flush=True)
np.savez(f"/tmp/exp/emb_{W}_{MAXW}.npz", full=full, first=first, title=short[:len(titles)], lead=short[len(titles):], labels=np.array(ds.labels))
json.dump({"texts": ds.texts, "titles": titles, "leads": leads, "labels": ds.labels, "names": ds.label_names}, open("/tmp/exp/views.json", "w"))
