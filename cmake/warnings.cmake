# The one list of warning flags every Lode target is built with.
set(LODE_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wdouble-promotion -Wformat=2
  -Wimplicit-fallthrough -Wmisleading-indentation
  # GCC 12 false positive on Asio coroutine frames (operator new/delete of awaitable_frame).
  -Wno-mismatched-new-delete)

function(lode_set_warnings target)
  target_compile_options(${target} PRIVATE ${LODE_WARNINGS})
  if(LODE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
