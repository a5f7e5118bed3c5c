"""The compile boundary: specs in, kernel arrays out. ``collateral`` compiles the pool and the
scenarios, ``waterfall`` the capital structure and its step table, ``layout`` the scenario-block
layout the kernels read. The only code that reads spec fields for the engine."""
