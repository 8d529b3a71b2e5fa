"""Pure statistics on small frames (pandas, numpy, scipy, statsmodels, lifelines): no engine, no workbook, no papermill."""
