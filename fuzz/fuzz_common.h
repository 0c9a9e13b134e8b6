/* What every libFuzzer target here shares: libFuzzer's entry points
 * (declared, since the build warns about undeclared functions) and CHECK,
 * which turns a violated invariant into a crash libFuzzer reports. */
#ifndef GV_FUZZ_COMMON_H
#define GV_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#endif
