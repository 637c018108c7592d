"""Training workload for the k-means example: the app's code paths, on small data.

    snap create --workload workload.py -o kmeans-image.so

Every specialization compiled here (same functions, same argument types as the
app) goes into the image; the data size does not matter, the types do.
"""
import numpy as np

import kmeans

K = 8
X, truth = kmeans.make_blobs(400, K, 6, 2.5, 1)
C, labels, history = kmeans.fit(X, K, seed=1)
conf = kmeans.soft_confidence(X, C, 0.1)
purity = kmeans.purity(labels, truth, K)
print(f"workload: {len(history)} iterations, inertia {history[-1]:.2f}, purity {purity:.3f}, "
      f"{np.bincount(labels).size} clusters")
