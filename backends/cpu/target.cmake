# What the cpu target's build needs besides its sources (CMakeLists.txt
# includes this after making nnac_cpu): LLVM's C API, found through
# llvm-config (Debian's llvm-dev, LLVM 14).  Its headers are SYSTEM so that
# -Werror builds ignore their warnings; only backends/cpu includes them.
# runtime/ loads the generated shared objects with dlopen and needs no LLVM.
find_program(LLVM_CONFIG NAMES llvm-config-14 llvm-config REQUIRED)
execute_process(COMMAND ${LLVM_CONFIG} --includedir OUTPUT_VARIABLE LLVM_INCLUDE_DIR
  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${LLVM_CONFIG} --libdir OUTPUT_VARIABLE LLVM_LIB_DIR
  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${LLVM_CONFIG} --libs core analysis target native passes bitwriter
  OUTPUT_VARIABLE LLVM_LIBS OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${LLVM_CONFIG} --system-libs OUTPUT_VARIABLE LLVM_SYSTEM_LIBS
  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
separate_arguments(LLVM_LIBS UNIX_COMMAND "${LLVM_LIBS} ${LLVM_SYSTEM_LIBS}")
target_include_directories(nnac_cpu SYSTEM PRIVATE ${LLVM_INCLUDE_DIR})
target_link_directories(nnac_cpu PUBLIC ${LLVM_LIB_DIR})
target_link_libraries(nnac_cpu PUBLIC ${LLVM_LIBS})
