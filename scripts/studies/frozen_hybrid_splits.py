"""Study (not product code): over K stratified splits, TF-IDF+LR vs a logistic head on frozen MiniLM embeddings vs their log-linear fusion (weight chosen on validation), on whole articles, headlines and headline + first sentence, with overlap-corrected intervals. Run: python scripts/studies/frozen_hybrid_splits.py /tmp/exp/emb_256_4.npz 20 10"""
import json, sys, math, numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, log_loss
from training.split import stratified_split
from training.baseline import build_baseline
V = json.load(open("/tmp/exp/views.json")); Z = np.load(sys.argv[1])
y = np.array(V["labels"]); K = int(sys.argv[2]) if len(sys.argv) > 2 else 20
views = {"full": V["texts"], "title": V["titles"], "lead": V["leads"]}
emb = {"full": Z["full"], "title": Z["title"], "lead": Z["lead"]}
def norm(x): return x / np.linalg.norm(x, axis=1, keepdims=True)
res = {k: [] for k in ["tfidf", "emb", "hyb", "tfidf_aug", "hyb_aug"]}
rows = []
for s in range(K):
    sp = stratified_split(V["labels"], 0.1, 0.1, 42 + s)
    tr, va, te = map(np.array, (sp.train, sp.val, sp.test))
    base = build_baseline(0).fit([views["full"][i] for i in tr], y[tr])
    aug = build_baseline(0).fit([views[v][i] for v in views for i in tr], np.concatenate([y[tr]]*3))
    Xtr = norm(np.concatenate([emb[v][tr] for v in emb])); ytr = np.concatenate([y[tr]]*3)
    lr = LogisticRegression(C=float(sys.argv[3]) if len(sys.argv) > 3 else 10, max_iter=3000).fit(Xtr, ytr)
    P = {}
    for v in views:
        for part, idx in (("val", va), ("test", te)):
            P[("tfidf", v, part)] = base.predict_proba([views[v][i] for i in idx])
            P[("tfidf_aug", v, part)] = aug.predict_proba([views[v][i] for i in idx])
            P[("emb", v, part)] = lr.predict_proba(norm(emb[v][idx]))
    def fuse(src, v, part, w): return w*np.log(P[("emb", v, part)]+1e-12) + (1-w)*np.log(P[(src, v, part)]+1e-12)
    ws = np.linspace(0, 1, 21)
    for src, name in (("tfidf", "hyb"), ("tfidf_aug", "hyb_aug")):
        best = min(ws, key=lambda w: sum(log_loss(y[va], np.exp(fuse(src, v, "val", w)) / np.exp(fuse(src, v, "val", w)).sum(1, keepdims=True), labels=range(5)) for v in views))
        for v in views: P[(name, v, "test")] = fuse(src, v, "test", best)
    row = {"seed": 42+s}
    for m in res:
        row[m] = {v: float((P[(m, v, "test")].argmax(1) == y[te]).mean()) for v in views}
        row[m + "_f1"] = {v: float(f1_score(y[te], P[(m, v, "test")].argmax(1), average="macro")) for v in views}
    rows.append(row); print(s, {m: [round(100*row[m][v], 1) for v in views] for m in res}, flush=True)
r = len(te)/len(tr)
def ci(d):
    d = np.array(d); m = d.mean(); sd = d.std(ddof=1); h = stats.t.ppf(.975, len(d)-1)*sd*math.sqrt(1/len(d)+r)
    return f"{100*m:+.2f} [{100*(m-h):+.2f},{100*(m+h):+.2f}]"
for v in views:
    print(v, {m: round(100*np.mean([rw[m][v] for rw in rows]), 2) for m in res})
    for m in ["emb", "hyb", "hyb_aug"]:
        print("  ", m, "-tfidf acc", ci([rw[m][v]-rw["tfidf"][v] for rw in rows]), "f1", ci([rw[m+"_f1"][v]-rw["tfidf_f1"][v] for rw in rows]))
