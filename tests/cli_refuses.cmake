# One check of ssl_cli_refuses (tests/CMakeLists.txt), run as `cmake -DPROGRAM=... -DARGS=a|b|c
# -DEXPECTED=regex -P cli_refuses.cmake`: the program must stop with an error status (1 to 127: not 0, not a
# signal, not a timeout) within a minute, and what it printed must match EXPECTED. ARGS separates the
# arguments with '|' (a ';' would split the -D value).
string(REPLACE "|" ";" arguments "${ARGS}")
execute_process(COMMAND "${PROGRAM}" ${arguments} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 50)
set(printed "${out}${err}")
if(NOT status MATCHES "^[0-9]+$" OR status EQUAL 0 OR status GREATER 127)
  message(FATAL_ERROR "expected a refusal (exit status 1 to 127), got '${status}'; it printed:\n${printed}")
endif()
if(NOT printed MATCHES "${EXPECTED}")
  message(FATAL_ERROR "expected output matching '${EXPECTED}', got (exit status ${status}):\n${printed}")
endif()
