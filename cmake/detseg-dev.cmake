add_library(detseg_dev INTERFACE)

if(MSVC)
    target_compile_options(detseg_dev INTERFACE /W4 /WX /permissive-)
else()
    target_compile_options(detseg_dev INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Werror)
endif()

if(DETSEG_SANITIZE)
    if(MSVC)
        message(FATAL_ERROR "DETSEG_SANITIZE needs GCC or Clang")
    endif()
    set(DETSEG_SANITIZE_FLAGS
        -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_compile_options(detseg_dev INTERFACE ${DETSEG_SANITIZE_FLAGS})
    target_link_options(detseg_dev INTERFACE ${DETSEG_SANITIZE_FLAGS})
endif()
