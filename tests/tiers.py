"""The two test tiers, in one place (applied by ``tests/conftest.py``; checked by ``tests/project/test_tiers.py``).

* **fast** (the default, ``python -m pytest``: about 3 minutes on 2 cores): the unit and project tests -- less
  the compile-heavy ones listed here --, every property test with a small example budget, and one
  representative end-to-end run per CLI command plus a handful of failure-catalogue and fuzz cases.
* **full** (``python -m pytest -m full``): everything else -- the other end-to-end tests, the whole fuzz set,
  the ``slow`` tests, the unit tests and cases listed here -- and every property test again at its own
  example budget.

Each test is in exactly one tier: fast + full is the whole suite, once (``-m ""`` runs both).

A test's tier, first rule that applies:

1. marked ``slow`` -> full;
2. matches :data:`FULL` -> full;
3. matches :data:`ONE_CASE` and is not the function's first case (every parameter at its first value) -> full;
4. in ``tests/unit`` or ``tests/project`` -> fast (a new unit test is fast until listed here);
5. matches :data:`FAST_E2E` -> fast;
6. anything else (end-to-end tests) -> full.

A property test (``@given``) whose tier is fast is collected twice: ``[examples-fast]`` in the fast tier, with
at most :func:`fast_examples` examples, and ``[examples-full]`` in the full tier with its own ``max_examples``.

Patterns are :mod:`fnmatch` patterns on ``FILE::NAME``: the file's base name (not its folder, so a test keeps
its tier when moved between folders) and the test's name as in its node id, with any class; a pattern matches
the name with or without its parameters (``test_cli.py::test_simulate_1d``, ``test_x.py::test_y[ppm*]``).
Every pattern must match a collected test (``tests/project/test_tiers.py``): a renamed test cannot silently
change tier.  The lists were chosen from the per-test durations of a whole run (``--durations=0``, 2026-12-07):
the fast tier is ~290 CPU-seconds of the suite's ~1,300 (about 2.5 min on the idle 2-core VM with two workers).
A new unit test that takes more than a few seconds belongs in FULL or ONE_CASE (``.ci/run`` prints the slowest).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

FAST, FULL_TIER = "fast", "full"

# Unit tests in the full tier: compile-heavy, 2.5 s or more each (gradients, float64 reruns, sharding in
# subprocesses, training runs, orders of accuracy).
FULL: tuple[str, ...] = (
    "test_boundaries.py::test_an_all_periodic_regional_run_is_the_ordinary_run",
    "test_boundaries.py::test_order_of_accuracy_with_a_smooth_time_dependent_inflow",
    "test_boundaries.py::test_the_mass_budget_closes_in_float64_for_any_flow_and_sides",
    "test_boundaries.py::test_sub_steps_on_a_regional_domain_are_the_steps_at_their_own_times",
    "test_regional_run.py::test_a_run_is_the_regional_rollout_of_the_python_api",
    "test_regional_models.py::test_the_mass_budget_of_a_learned_model_closes_in_float32",
    "test_regional_models.py::test_the_paper_model_in_fct_stays_within_the_initial_and_inflow_values",
    "test_regional_models.py::test_a_constant_inflow_fills_an_empty_channel",
    "test_boundary_band.py::test_the_table_of_one_classical_scheme_on_one_flow",
    "test_plume.py::test_every_run_closes_its_budget_stays_in_range_and_converges",
    "test_plume.py::test_the_report_is_built_from_the_saved_metrics_alone",
    "test_bounded_symmetric.py::test_bfloat16_network_is_close_and_conserves_mass",
    "test_bounded_symmetric.py::test_d4_symmetric_model_is_equivariant",
    "test_checkpoint.py::test_learned_model_under_x64_gives_the_float32_result",
    "test_composition.py::test_d4_average_of_a_shipped_model_is_the_symmetry_option_and_equivariant",
    "test_data_parallel.py::test_two_host_devices_same_loss_trajectory",
    "test_fct_slices.py::test_compiled_limit_agrees_with_the_rolled_form_to_round_off",
    "test_ffsl.py::test_2d_integer_courant_numbers_shift_exactly",
    "test_ffsl.py::test_the_constant_field_stays_constant_in_a_uniform_flow",
    "test_ffsl.py::test_the_fused_large_step_equals_the_periodic_form",
    "test_hybrid.py::test_mass_to_round_off_and_a_constant_kept_at_courant_up_to_4",
    "test_hybrid.py::test_projected_correction_is_the_coefficient_form_and_a_per_cell_output_layer",
    "test_hybrid.py::test_the_extended_correction_step_equals_the_flux_form",
    "test_hybrid.py::test_the_shipped_hybrid_loads_by_name",
    "test_models.py::test_a_batched_step_is_the_step_of_each_sample",
    "test_models.py::test_ffsl_learned_is_the_usual_model_below_courant_one_and_keeps_mass_above",
    "test_models.py::test_rescale_constant_field_and_gradient_finite",
    "test_models.py::test_stencil_values_and_convolution_match_the_rolled_forms",
    "test_sharding.py::test_a_grid_the_mesh_does_not_divide_is_refused_in_one_line",
    "test_sharding.py::test_a_halo_wider_than_the_grid_runs_on_this_process_devices",
    "test_sharding.py::test_a_halo_below_the_reach_is_caught_by_the_window_check",
    "test_sharding.py::test_four_devices_lay_out_as_two_by_two_and_hold_a_quarter_each",
    "test_sharding.py::test_a_sharded_step_on_a_regional_domain_equals_the_one_device_run",
    "test_sharding.py::test_sharded_shipped_models_equal_the_one_device_run",  # subprocess (~40 s)
    "test_sharding.py::test_sharded_van_leer_equals_the_one_device_run",  # these four share the four_devices
    "test_simulation.py::test_interpolated_velocity_stays_divergence_free",
    "test_simulation.py::test_readme_many_tracers_example_runs_and_equals_one_tracer_at_a_time",
    "test_simulation.py::test_simulate_to_file_streams_and_leaves_nothing_on_interrupt",
    "test_simulation.py::test_sixteen_tracers_equal_sixteen_single_runs",
    "test_simulation.py::test_time_dependent_velocity_is_read_one_chunk_at_a_time",
    "test_simulation.py::test_tracers_stream_to_their_own_variables_and_a_blow_up_names_the_tracer",
    "test_steppers.py::test_fluxes_reproduce_the_step",
    "test_steppers.py::test_gradients_through_every_classical_scheme_are_finite",
    "test_steppers.py::test_the_fused_lin_rood_step_equals_the_periodic_oracle_over_any_interpolation",
    "test_steppers.py::test_repeated_and_coarse_grained_rollout_equal_the_fine_loop",
    "test_steppers.py::test_rollout_with_a_velocity_function_and_t0",
    "test_symmetry.py::test_symmetry_commutes_with_step",
    "test_training.py::test_checkpoint_roundtrip_and_resume_equals_uninterrupted",
    "test_training.py::test_corrupt_or_mismatched_checkpoint_rejected",
    "test_training.py::test_diverged_run_leaves_only_what_was_there",
    "test_training.py::test_no_nan_gradient_on_constant_field",
    "test_training.py::test_resume_checks_settings_before_reading_the_optimizer_state",
    "test_training.py::test_unrolled_loss_gradient_matches_finite_differences",
    "test_turbulence.py::test_mcwilliams84_zero_mean_energy_and_seed_determinism",
    "test_turbulence.py::test_pyqg_history_deterministic_and_evolving",
    "test_turbulence_data.py::test_a_longer_cached_sample_is_reused_and_agrees_with_a_shorter_one",
    "test_velocity_grids.py::test_deformational_flow_returns_bell_with_converging_vanleer_error",
    "test_velocity_grids.py::test_rollout_velocity_forms_agree",
    "test_weno.py::test_constant_preserved_in_the_deformational_flow",
    "test_weno.py::test_gradients_are_finite_and_match_finite_differences",
    "test_weno.py::test_mass_conserved_in_time_varying_flows",
    "test_weno.py::test_order_of_accuracy_1d",
    "test_weno.py::test_order_of_accuracy_2d",
    "test_weno.py::test_reconstruction_is_fifth_order_at_the_face",
    "test_weno.py::test_stable_at_its_courant_number_in_2d",
)

# Parametrised unit tests whose first case alone is in the fast tier; their other cases are full.
ONE_CASE: tuple[str, ...] = (
    "test_boundaries.py::test_a_constant_inflow_fills_a_1d_domain_exactly",
    "test_boundaries.py::test_a_constant_inflow_fills_a_2d_channel_between_walls",
    "test_boundaries.py::test_a_pulse_leaves_through_the_outflow_side_and_nothing_stays",
    "test_boundaries.py::test_walls_let_nothing_through",
    "test_boundaries.py::test_the_bounded_steps_stay_within_the_initial_and_inflow_values",
    "test_regional_models.py::test_an_all_periodic_regional_run_of_a_learned_model_is_the_ordinary_run",
    "test_regional_models.py::test_a_constant_inflow_into_a_uniform_channel_stays_constant",
    "test_bounded_symmetric.py::test_fct_keeps_initial_bounds_and_mass",
    "test_composition.py::test_fct_of_a_shipped_model_keeps_the_range_and_is_the_fct_option",
    "test_ffsl.py::test_2d_large_steps_stay_in_the_initial_range_with_fct",
    "test_ffsl.py::test_2d_mass_to_round_off_and_constant_kept_at_courant_up_to_4",
    "test_ffsl.py::test_2d_order_of_accuracy_at_courant_2_5",
    "test_ffsl.py::test_integer_courant_numbers_shift_exactly",
    "test_ffsl.py::test_mass_is_conserved_with_varying_large_courant_numbers",
    "test_ffsl.py::test_order_of_accuracy_at_courant_2_5",
    "test_hybrid.py::test_a_zero_correction_is_the_classical_step",
    "test_models.py::test_coefficients_sum_to_one_and_zero_output_is_centred",
    "test_models.py::test_ffsl_learned_step_shifts_exactly_at_integer_courant_numbers",
    "test_models.py::test_mass_conserved_and_semilinear",
    "test_models.py::test_periodic_shift_equivariance",
    "test_models.py::test_untrained_zero_last_layer_is_centred_scheme",
    "test_reach.py::test_cells_beyond_the_reach_do_not_change_the_update",
    "test_schemes.py::test_2d_constant_preserved_in_nonuniform_flow",
    "test_schemes.py::test_convergence_order",
    "test_schemes.py::test_exact_one_cell_shift_at_courant_one",
    "test_schemes.py::test_mass_conserved_over_1000_steps",
    "test_schemes.py::test_no_new_extrema_on_square_wave",
    "test_schemes.py::test_ppm_stencil_form_equals_the_textbook_form",
    "test_schemes.py::test_semi_linearity",
    "test_schemes.py::test_vanleer_faces_bitwise_equal_the_textbook_form",
    "test_schemes.py::test_vanleer_slope_bitwise_equals_the_literal_formula",
    "test_schemes.py::test_vanleer_step_equals_the_textbook_form",
    "test_sharding.py::test_a_block_extended_by_the_step_reach_updates_like_the_whole_grid",
    "test_sharding.py::test_sharded_on_this_process_devices_is_the_same_rollout",
    "test_simulation.py::test_chunked_stream_equals_one_rollout",
    "test_simulation.py::test_runs_are_exact_at_any_magnitude",
    "test_simulation.py::test_winds_at_their_own_times_equal_the_midpoint_winds_by_hand",
    "test_steady.py::test_prepared_step_is_bitwise_the_step",
    "test_steady.py::test_repeated_prepares_its_sub_step",
    "test_steady.py::test_steady_rollout_is_bitwise_the_loop_of_steps",
    "test_steady.py::test_steppers_without_preparation_step_as_usual",
    "test_steppers.py::test_fct_wrapper_bounds_any_classical_scheme",
    "test_steppers.py::test_learned_stepper_with_fixed_upwind_coefficients_is_the_upwind_step",
    "test_steppers.py::test_unsplit_stencil_step_is_the_periodic_unsplit_step_bitwise",
    "test_turbulence.py::test_turbulent_faces_divergence_free",
    "test_velocity_grids.py::test_velocity_coarsening_equals_streamfunction_subsampling",
    "test_weno.py::test_reconstruction_equals_the_printed_formula",
    "test_weno.py::test_reconstruction_of_a_constant_is_exact",
    "test_weno.py::test_square_wave_overshoot_is_small",
    "test_weno.py::test_ssp_rk3_fluxes_are_the_shu_osher_stages",
)

# End-to-end tests in the fast tier: one real run per CLI command (demo is README command 1, not here), a few
# failure-catalogue cases and a few fuzz cases (FAST_EXAMPLES).
FAST_E2E: tuple[str, ...] = (
    "test_regional_cli.py::test_a_channel_fills_with_its_inflow_and_its_budget_closes[[]ppm-0.5-False[]]",
    "test_failure_catalogue.py::test_bad_regional_input_one_line_exit_2_nothing_touched[[]missing inflow value[]]",
    "test_cli.py::test_version_and_help",
    "test_cli.py::test_simulate_1d",  # simulate
    "test_simulate_learned.py::test_simulate_with_learned_checkpoint",  # simulate --scheme learned
    "test_advection_1d.py::test_smoke_preset_end_to_end",  # reproduce advection-1d --preset smoke (trains)
    "test_advection_1d.py::test_evaluate_and_train_commands",  # evaluate, train
    "test_cli.py::test_bench_paper_vs_vanleer_quick",  # bench --quick
    "test_cli.py::test_cost_records_each_repeated_model_option",  # cost (the run itself: test_accuracy_cost.py)
    "test_cli.py::test_report_rebuilds_a_cost_folder",  # report
    "test_transfer.py::test_transfer_runs_models_and_baselines_and_writes_its_report",  # transfer
    "test_sweep_2d.py::test_smoke_sweep_and_resume",  # sweep --grid smoke, and --resume
    "test_stress_command.py::test_stress_runs_a_large_step_and_writes_its_report",  # stress
    "test_stress_command.py::test_stress_refuses_bad_input_in_one_line",  # no run: refused before any work
    "test_stress_command.py::test_the_listed_defaults_are_the_suite_s",
    # the failure catalogue: one bad input per command
    "test_failure_catalogue.py::test_bad_input_one_line_exit_2_nothing_touched[[]train zero steps[]]",
    "test_failure_catalogue.py::test_bad_input_one_line_exit_2_nothing_touched[[]evaluate corrupt checkpoint[]]",
    "test_failure_catalogue.py::test_bad_input_one_line_exit_2_nothing_touched[[]transfer zero steps[]]",
    "test_failure_catalogue.py::test_bad_input_one_line_exit_2_nothing_touched[[]report no metrics[]]",
    "test_cli.py::test_bad_input_exit_2_one_line_nothing_written[[]missing input-new-output[]]",  # simulate
    "test_cli.py::test_bad_input_exit_2_one_line_nothing_written[[]not netcdf-existing-output[]]",
    # the fuzz: a few cases of each (FAST_EXAMPLES)
    "test_fuzz.py::test_simulate_any_problem_runs_cleanly_or_is_refused_in_one_line",
    "test_fuzz.py::test_simulate_any_checkpoint_runs_cleanly_or_is_refused_in_one_line",
)

# The fast tier's example budget of a property test: the first matching pattern's number, else the ``fast``
# hypothesis profile's ``max_examples`` (tests/conftest.py); never more than the test's own budget.
FAST_EXAMPLES: dict[str, int] = {
    "test_boundaries.py::test_the_mass_budget_closes_*": 1,  # each example compiles a new structure
    "test_fuzz.py::test_simulate_any_problem_*": 4,  # plus each test's explicit @example
    "test_fuzz.py::test_simulate_any_checkpoint_*": 2,  # ~3 s a case
    # each example compiles new shapes (seconds each)
    "test_steady.py::test_prepared_*_for_any_flow": 2,
    "test_fct_slices.py::test_limit_is_the_rolled_form_to_round_off": 2,
    "test_weno.py::test_reconstruction_mirror_and_semi_linearity": 2,
    "test_weno.py::test_padded_evaluation_equals_the_periodic_one": 2,
    "test_simulation.py::test_property_tracers_and_wind_spacings": 2,
    "test_hybrid.py::test_correction_coefficients_sum_to_zero": 2,
}


def matches(patterns, file_name: str, name: str) -> list[str]:
    """The patterns that match test ``name`` (with or without its parameters) of file ``file_name``."""
    keys = {f"{file_name}::{name}", f"{file_name}::{name.split('[', 1)[0]}"}
    return [p for p in patterns if any(fnmatchcase(k, p) for k in keys)]


def tier(parts: tuple[str, ...], name: str, slow: bool = False, first_case: bool = True) -> str:
    """The tier of test ``name`` of the file at path ``parts`` (``Path.parts``); ``first_case``: every
    parameter of the test at its first value (or none)."""
    file_name = parts[-1]
    if slow or matches(FULL, file_name, name):
        return FULL_TIER
    if not first_case and matches(ONE_CASE, file_name, name):
        return FULL_TIER
    if any(a == "tests" and b in ("unit", "project") for a, b in zip(parts, parts[1:], strict=False)):
        return FAST
    if matches(FAST_E2E, file_name, name):
        return FAST
    return FULL_TIER


def fast_examples(file_name: str, name: str, default: int) -> int:
    """The fast tier's example budget of property test ``name`` (``default``: the fast profile's)."""
    for pattern, n in FAST_EXAMPLES.items():
        if matches([pattern], file_name, name):
            return n
    return default
