# One check of the ssl program (tests/CMakeLists.txt's ssl_cli_refuses and ssl_cli_succeeds), run as
# `cmake -DCOMMAND=program|a|b -DOUTCOME=refused|succeeded -DEXPECTED=regex -P cli_check.cmake`: the command
# must end within a minute with the outcome asked for (refused: an error status, 1 to 127, not a signal or a
# timeout; succeeded: status 0), and what it printed must match EXPECTED. COMMAND separates the program and
# its arguments with '|' (a ';' would split the -D value); an empty argument stays one. What the command
# printed is printed again, so that a test's FAIL_REGULAR_EXPRESSION can check it too.
string(REPLACE "|" ";" command "${COMMAND}")
# Each argument in a bracket argument: a plain list expansion would drop the empty ones.
set(quoted "")
foreach(argument IN LISTS command)
  string(APPEND quoted " [==[${argument}]==]")
endforeach()
cmake_language(EVAL CODE "execute_process(COMMAND ${quoted} RESULT_VARIABLE status OUTPUT_VARIABLE out
                                          ERROR_VARIABLE err TIMEOUT 50)")
set(printed "${out}${err}")
if(OUTCOME STREQUAL "succeeded")
  if(NOT status STREQUAL "0")
    message(FATAL_ERROR "expected success (exit status 0), got '${status}'; it printed:\n${printed}")
  endif()
elseif(NOT status MATCHES "^[0-9]+$" OR status EQUAL 0 OR status GREATER 127)
  message(FATAL_ERROR "expected a refusal (exit status 1 to 127), got '${status}'; it printed:\n${printed}")
endif()
if(NOT printed MATCHES "${EXPECTED}")
  message(FATAL_ERROR "expected output matching '${EXPECTED}', got (exit status ${status}):\n${printed}")
endif()
string(STRIP "${printed}" printed)
message("${printed}")
