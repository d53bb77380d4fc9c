#ifndef IMCTL_CEDITLINE_SHIM_H
#define IMCTL_CEDITLINE_SHIM_H

#include <stdio.h>
#include <editline/readline.h>

#endif
