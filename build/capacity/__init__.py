"""`capacity plan`: provisioned concurrency, memory and budget from a traffic profile."""
