// sl_torch.cpp: placeholder until the shim lands; only the error text exists.
#include "shim/sl_torch.h"
extern "C" const char *sl_torch_last_error(void) { return "shim not built"; }
