"""Study (not product code): the product's fusion (training.hybrid: TF-IDF branch fitted on every
view, one transformer weight per length bucket chosen on validation) applied to a logistic head on
frozen MiniLM embeddings, over K splits, against the served baseline. Needs the files of
frozen_embed.py. Run: python scripts/studies/frozen_hybrid_buckets.py /tmp/exp/emb_256_4.npz 20 [plain]"""
import json, sys, math, logging, numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from training.split import stratified_split
from training.duplicates import near_duplicate_groups
from training.baseline import build_baseline
from training.hybrid import fit_branch, choose_weights
logging.disable(logging.INFO)
V = json.load(open("/tmp/exp/views.json")); Z = np.load(sys.argv[1])
y = np.array(V["labels"]); K = int(sys.argv[2]) if len(sys.argv) > 2 else 20
names = sorted(set(V["labels"])); views = {"full": V["texts"], "headline": V["titles"], "lead": V["leads"]}
emb = {"full": Z["full"], "headline": Z["title"], "lead": Z["lead"]}
def norm(x): return x / np.linalg.norm(x, axis=1, keepdims=True)
rows = []
# near duplicates on one side of every split, as training does (pass "plain" to leave them)
groups = None if "plain" in sys.argv else near_duplicate_groups(V["texts"], V["titles"])
for s in range(K):
    sp = stratified_split(V["labels"], 0.1, 0.1, 42 + s, groups)
    tr, va, te = map(np.array, (sp.train, sp.val, sp.test))
    base = build_baseline(0).fit([views["full"][i] for i in tr], y[tr])
    lr = LogisticRegression(C=10, max_iter=3000).fit(norm(np.concatenate([emb[v][tr] for v in emb])), np.concatenate([y[tr]] * 3))
    logit = lambda v, idx: np.log(lr.predict_proba(norm(emb[v][idx])) + 1e-12)
    branch = fit_branch([views[v][i] for v in views for i in tr], list(np.concatenate([y[tr]] * 3)), [str(n) for n in range(5)], 0)
    branch = choose_weights(branch, {v: logit(v, va) for v in views}, {v: [views[v][i] for i in va] for v in views}, list(y[va]))
    row = {"seed": 42 + s, "weights": branch.weights}
    for v in views:
        texts = [views[v][i] for i in te]
        row[v] = {"tfidf": float((base.predict(texts) == y[te]).mean()),
                  "emb": float((logit(v, te).argmax(1) == y[te]).mean()),
                  "branch": float((branch.log_proba(texts).argmax(1) == y[te]).mean()),
                  "hybrid": float((branch.fuse(logit(v, te), texts).argmax(1) == y[te]).mean())}
    rows.append(row); print(s, row["weights"], {v: round(100 * row[v]["hybrid"], 1) for v in views}, flush=True)
r = len(te) / len(tr)
def ci(d):
    d = np.array(d); m = d.mean(); sd = d.std(ddof=1); h = stats.t.ppf(.975, len(d) - 1) * sd * math.sqrt(1 / len(d) + r)
    return f"{100*m:+.2f} [{100*(m-h):+.2f},{100*(m+h):+.2f}]"
for v in views:
    print(v, {m: round(100 * np.mean([rw[v][m] for rw in rows]), 2) for m in ("tfidf", "emb", "branch", "hybrid")},
          "hybrid-tfidf", ci([rw[v]["hybrid"] - rw[v]["tfidf"] for rw in rows]))
