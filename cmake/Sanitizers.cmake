# VSCSIM_SANITIZE selects a sanitizer build for every C++ target:
#   -DVSCSIM_SANITIZE=address,undefined   (ASan + UBSan)
#   -DVSCSIM_SANITIZE=thread              (TSan, for code where threads meet)
# Sanitizer failures abort the process so that a test cannot pass over a report.
set(VSCSIM_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list (empty: none)")
if(VSCSIM_SANITIZE)
  add_compile_options(-fsanitize=${VSCSIM_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${VSCSIM_SANITIZE})
endif()
