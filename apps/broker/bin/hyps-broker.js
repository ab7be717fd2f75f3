#!/usr/bin/env node
// Runs the built broker (npm run build puts it in ../dist).
import '../dist/main.js';
