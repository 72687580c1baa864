// SwiftPM links executables with `main` aliased to `<module>_main` (so tests can call them); a
// libFuzzer binary has no Swift main, so that symbol starts libFuzzer's driver on the Swift target.
#include "driver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int tributary_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
