import dstate_lib

dstate_lib.run()
