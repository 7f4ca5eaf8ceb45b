"""Both sides: what crosses rpyc - the rpyc generations, the bulk lane, plain data, remote errors, client records,
job states."""
