-- wrk script for GETs: the request is static (URL and -H headers from the command line); done()
-- prints one line "WRK_JSON {...}" that tests/bench/bench.py reads.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "wrk_common.lua")

done = common.done
