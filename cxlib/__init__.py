"""CX Workbook helper library: params, data contract, analyses, figures and report publishing."""

__version__ = "0.1.0"
