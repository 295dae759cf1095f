"""Names and limits shared across the package, defined once and torch-free (the command line
reads them without importing torch)."""

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
DTYPE_NAMES = ("fp16", "fp32")  # how model files can be exported
RESOLUTIONS = (32, 64, 128)  # square image sides the networks are built for
LATENT_CLIP = 3.0  # |z| bound per coordinate of the normal latent: 99.7% of N(0, 1)
MAX_PIXELS = 40_000_000  # the most pixels an image may have, read from its header before decoding
BLENDS = ("poisson", "paste")  # how a fill goes into the hole
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")  # the image files read from folders
