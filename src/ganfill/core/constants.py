"""Names and limits shared across the package, defined once and torch-free (the command line
reads them without importing torch)."""

GANFILL_VERSION = "0.1.0"  # ganfill.__version__ and the package metadata's (pyproject.toml reads it here)
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
DTYPE_NAMES = ("fp16", "fp32")  # how model files can be exported
RESOLUTIONS = (32, 64, 128)  # square image sides the networks are built for
LATENT_CLIP = 3.0  # |z| bound per coordinate of the normal latent: 99.7% of N(0, 1)
MAX_PIXELS = 40_000_000  # the most pixels an image may have, read from its header before decoding
BLENDS = ("poisson", "paste")  # how a fill goes into the hole
# the image files read from folders, by `prepare`, `inpaint`, `evaluate` and the demo alike (GIF, TIFF: the first frame)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

# Upper bounds that keep time and memory finite (checked where options are parsed and by the
# configs themselves, so the Python API gets the same one-line errors).
SEEDS = (-(2**63), 2**63 - 1)  # a seed is a signed 64-bit integer (torch's and the search's seeding)
MAX_TRAIN_STEPS = 10_000_000  # training iterations (the shipped models: 4,000 to 12,000)
MAX_UPDATES = 100  # D or G updates per training iteration (the paper: 1 and 2)
MAX_SEARCH_STEPS = 100_000  # Adam steps of the latent search (the paper: 1500)
MAX_RESTARTS = 64  # z per image searched together (the default: 1 or 2)
MAX_BATCH = 4096  # images per batch, in training and inpainting
MAX_SAMPLES = 4096  # images in one sample grid (`ganfill sample -n`, training's --n-samples)
MAX_IMAGES = 100_000  # images `ganfill evaluate` scores at once (all held in memory)
PORTS = (1, 65535)  # a TCP port to serve on
