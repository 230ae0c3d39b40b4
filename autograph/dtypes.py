"""dtype names as PyTorch spells them (``ag.float32``, ``ag.long``, ``ag.double``, ``ag.bool``):
numpy dtypes, so they are accepted wherever a dtype is, by autograph and by numpy alike."""
import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
complex64 = cfloat = np.dtype(np.complex64)
complex128 = cdouble = np.dtype(np.complex128)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

__all__ = ["float16", "half", "float32", "float", "float64", "double", "complex64", "cfloat",
           "complex128", "cdouble", "uint8", "int8", "int16", "short", "int32", "int", "int64",
           "long", "bool"]
