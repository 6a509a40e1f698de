"""Exceptions with messages meant for people."""


class FakelensError(Exception):
    """Base class: the message says what went wrong and how to fix it."""


class DataError(FakelensError, ValueError):
    """A dataset is missing files or columns, has unknown labels or an empty class."""


class ImageReadError(FakelensError, ValueError):
    """A file could not be decoded as an image (or is too large to decode safely)."""


class WeightsUnavailableError(FakelensError, RuntimeError):
    """Pretrained or trained weights cannot be found or loaded."""


class RunDirError(FakelensError, FileNotFoundError):
    """A run folder is missing or incomplete."""


class VideoReadError(FakelensError, ValueError):
    """A file could not be decoded as a video (corrupt, truncated, no frames, unsupported codec)."""


class ConfigError(FakelensError, ValueError):
    """A configuration (training options, a source YAML, detector.json) is invalid."""


class InputTooLargeError(FakelensError, ValueError):
    """An input is above a size limit (pixels, decode budget): refused before the costly work (the service answers 413)."""


class ImageTooLargeError(ImageReadError, InputTooLargeError):
    """An image above the pixel limit, including decompression bombs (a small file with a huge header)."""


class VideoTooLargeError(VideoReadError, InputTooLargeError):
    """A video whose frames are above the pixel limit."""


class UnsafePathError(FakelensError, ValueError):
    """A path taken from an input (a file name, a manifest row, an index entry) would lead outside its folder."""
