// bgcopy: the command line of the bgcopy transfer service (SPEC section 4).
#include "cli/cli.hpp"

int main(int argc, char** argv) {
  return bgcopy::cli::main(argc, argv);
}
