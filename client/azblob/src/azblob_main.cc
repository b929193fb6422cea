// azblob: the Azure Blob store from the shell, through /dev/azure_blob.
// Built twice: build/bin/azblob, and statically for the guest's initramfs
// (build/images/guest-tools/azblob), which has no libc.
#include <iostream>

#include "vscsim/azblob/cli.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  return vscsim::azblob::run_cli(argc, argv, {std::cin, std::cout, std::cerr}, vscsim::azblob::Device::open);
}
